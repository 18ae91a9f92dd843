// The hosts' first boot and the fleet's per-host step, offline: the user data exactly as the
// Gateway stack synthesizes it (its CloudFormation references filled in as AWS would) runs against
// a staging root with the release built by scripts/build.sh, as install.sh's own tests do; then
// scripts/fleet-host.sh changes the rules on that host. The scripts are shellcheck-clean.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, scratchTempDirs } from '../support/processes.ts';
import { EXECUTABLE } from '../support/build.ts';
import { API_KEY_SHA256, CERTIFICATE_ARN, EXISTING_VPC, removeSynthesized, synth } from '../support/infra.ts';
import { stageKit } from '../../infra/lib/release-kit.ts';

setDefaultTimeout(240_000);

const NAME = 'sagemaker-mlflow-proxy';
const MLFLOW_ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/existing';
const ALB_ARN = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/gateway/0123456789abcdef';
const LOG_GROUP = 'MlflowProxy-GatewayTracking-GatewayLogs-abc';

// Staging roots hold the ~110 MB executable twice (kit and install): removed when the file ends.
const tempDir = scratchTempDirs();
afterAll(removeSynthesized);

/** The launch template's user data with each CloudFormation reference replaced by what it resolves to in AWS. */
function synthesizedUserData(env: Record<string, string>): string {
  const s = synth({ vpcId: EXISTING_VPC, mlflowArn: MLFLOW_ARN, certificateArn: CERTIFICATE_ARN, gatewayEnv: JSON.stringify(env) });
  const template = s.templates['MlflowProxy-GatewayTracking']!;
  const [launchTemplate] = Object.values(template.findResources('AWS::EC2::LaunchTemplate')) as any[];
  const parts = launchTemplate.Properties.LaunchTemplateData.UserData['Fn::Base64']['Fn::Join'][1] as unknown[];
  return parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const ref = (part as { Ref?: string }).Ref ?? '';
      if (ref.startsWith('GatewayLogs')) return LOG_GROUP;
      if (ref.startsWith('Alb')) return ALB_ARN;
      throw new Error(`unexpected reference in the user data: ${JSON.stringify(part)}`);
    })
    .join('');
}

function runUserData(script: string, root: string, kit: string) {
  const file = join(tempDir('user-data'), 'user-data.sh');
  writeFileSync(file, script);
  const run = spawnSync('bash', [file], { encoding: 'utf8', env: { PATH: process.env.PATH, USERDATA_ROOT: root, USERDATA_KIT_DIR: kit }, timeout: 120_000 });
  return { code: run.status, out: `${run.stdout}${run.stderr}` };
}

function fleetHost(root: string, ...args: string[]) {
  const run = spawnSync('bash', [join(REPO, 'scripts', 'fleet-host.sh'), '--root', root, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: run.status, out: `${run.stdout}${run.stderr}` };
}

test('the user data, the fleet scripts and the infra setup script are shellcheck-clean', () => {
  const run = spawnSync('shellcheck', ['-x', 'infra/lib/user-data.sh', 'scripts/fleet.sh', 'scripts/fleet-host.sh', 'scripts/setup-infra.sh'], { cwd: REPO, encoding: 'utf8' });
  expect(run.error).toBeUndefined();
  expect(run.stdout + run.stderr).toBe('');
  expect(run.status).toBe(0);
});

describe('first boot: the synthesized user data against a staging root', () => {
  let root: string;
  let kit: string;
  let result: { code: number | null; out: string };
  beforeAll(() => {
    root = tempDir('root');
    // synth() builds the release (scripts/build.sh); the kit is the folder the stack made its asset from.
    const script = synthesizedUserData({ PROXY_API_KEY_SHA256: API_KEY_SHA256 });
    kit = stageKit(EXECUTABLE, join(REPO, 'rules.yaml'));
    result = runUserData(script, root, kit);
  });

  test('installs the release with install.sh, whose check passes with the stack-written environment', () => {
    expect(result.out).toContain('rules.yaml: OK');
    expect(result.out).toContain('user-data: done');
    expect(result.code).toBe(0);
    const version = spawnSync(join(root, 'usr/local/bin', NAME), ['version'], { encoding: 'utf8' });
    expect(version.stdout).toStartWith(`${NAME} `);
    expect(readFileSync(join(root, 'etc', NAME, 'rules.yaml'), 'utf8')).toBe(readFileSync(join(REPO, 'rules.yaml'), 'utf8'));
  });

  test("the environment file has the backend ARN, this ALB's ARN, the key hash and trusts X-Forwarded-For", () => {
    const environment = readFileSync(join(root, 'etc', NAME, 'environment'), 'utf8');
    for (const line of [`MLFLOW_ARN=${MLFLOW_ARN}`, `ALB_ARN=${ALB_ARN}`, `PROXY_API_KEY_SHA256=${API_KEY_SHA256}`, 'TRUST_FORWARDED_FOR=true', 'PORT=8080']) {
      expect(environment.split('\n')).toContain(line);
    }
  });

  test('keeps the kit on the host (install.sh --rollback and re-runs need it)', () => {
    for (const file of ['install.sh', NAME, 'rules.yaml', `systemd/${NAME}.service`]) expect(existsSync(join(root, 'opt', NAME, 'kit', file))).toBe(true);
  });

  test("sends the service's output to the file the CloudWatch agent ships to the stack's log group, rotated daily", () => {
    const dropIn = readFileSync(join(root, 'etc/systemd/system', `${NAME}.service.d`, '10-cloudwatch-log.conf'), 'utf8');
    expect(dropIn).toContain(`StandardOutput=append:/var/log/${NAME}/gateway.log`);
    const agent = JSON.parse(readFileSync(join(root, 'opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json'), 'utf8'));
    expect(agent.logs.logs_collected.files.collect_list).toEqual([{ file_path: `/var/log/${NAME}/gateway.log`, log_group_name: LOG_GROUP, log_stream_name: '{instance_id}', timezone: 'UTC' }]);
    const rotate = readFileSync(join(root, 'etc/logrotate.d', NAME), 'utf8');
    expect(rotate).toContain(`/var/log/${NAME}/gateway.log {`);
    expect(rotate).toContain('copytruncate');
  });

  test('the unit with its drop-in passes systemd-analyze verify', () => {
    for (const dir of ['/usr/lib/systemd/system', '/lib/systemd/system']) {
      if (existsSync(dir)) {
        mkdirSync(join(root, dir), { recursive: true });
        cpSync(dir, join(root, dir), { recursive: true, dereference: false, verbatimSymlinks: true });
        break;
      }
    }
    const run = spawnSync('systemd-analyze', ['verify', `--root=${root}`, `${NAME}.service`], { encoding: 'utf8' });
    expect(run.error).toBeUndefined();
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  describe('scripts/fleet-host.sh on that host', () => {
    test('rules FILE: a valid file replaces rules.yaml and the previous one is kept; the same file again changes nothing', () => {
      const before = readFileSync(join(root, 'etc', NAME, 'rules.yaml'), 'utf8');
      const next = join(tempDir('rules'), 'rules.yaml');
      writeFileSync(next, before.replace('maxPathLength: 2048', 'maxPathLength: 4096'));
      const run = fleetHost(root, 'rules', next);
      expect(run.out).toContain('OK');
      expect(run.code).toBe(0);
      expect(readFileSync(join(root, 'etc', NAME, 'rules.yaml'), 'utf8')).toContain('maxPathLength: 4096');
      expect(readFileSync(join(root, 'etc', NAME, 'rules.yaml.previous'), 'utf8')).toBe(before);
      const again = fleetHost(root, 'rules', next);
      expect(again.code).toBe(0);
      expect(again.out).toContain('is already this file');
    });

    test('rules FILE: a file that does not validate with the host environment is refused and the rules in force stay', () => {
      const inForce = readFileSync(join(root, 'etc', NAME, 'rules.yaml'), 'utf8');
      const bad = join(tempDir('rules'), 'rules.yaml');
      writeFileSync(bad, inForce.replace('${PROXY_API_KEY_SHA256}', '${NOT_ON_THIS_HOST}'));
      const run = fleetHost(root, 'rules', bad);
      expect(run.code).toBe(1);
      expect(run.out).toContain('environment variable NOT_ON_THIS_HOST is not set');
      expect(run.out).toContain('the rules in force are unchanged');
      expect(readFileSync(join(root, 'etc', NAME, 'rules.yaml'), 'utf8')).toBe(inForce);
    });

    test('rules-rollback goes back to the previous rules', () => {
      const run = fleetHost(root, 'rules-rollback');
      expect(run.code).toBe(0);
      expect(readFileSync(join(root, 'etc', NAME, 'rules.yaml'), 'utf8')).toContain('maxPathLength: 2048');
    });

    test('rollback is install.sh --rollback, which refuses clearly when no previous executable exists', () => {
      const run = fleetHost(root, 'rollback');
      expect(run.code).toBe(1);
      expect(run.out).toContain('--rollback: no previous executable');
    });
  });
});

test('synth refuses rules that would not validate on the hosts, naming what is missing', () => {
  // No apiKeySha256 in the context: the shipped rules need PROXY_API_KEY_SHA256.
  expect(() => synthesizedUserData({})).toThrow(/environment variable PROXY_API_KEY_SHA256 is not set/);
});

test("first boot stops, with install.sh's problem list, when the environment does not satisfy the rules", () => {
  const script = synthesizedUserData({ PROXY_API_KEY_SHA256: API_KEY_SHA256 }).replace(`PROXY_API_KEY_SHA256=${API_KEY_SHA256}\n`, '');
  const root = tempDir('root');
  const result = runUserData(script, root, stageKit(EXECUTABLE, join(REPO, 'rules.yaml')));
  expect(result.code).not.toBe(0);
  expect(result.out).toContain('environment variable PROXY_API_KEY_SHA256 is not set');
  expect(result.out).toContain('the service was not (re)started');
  expect(result.out).not.toContain('user-data: done');
});
