// The hosts' first boot and the fleet's per-host step, offline: the user data exactly as the
// Gateway stack synthesizes it (its CloudFormation references filled in as AWS would) runs against
// a staging root with the release built by scripts/build.sh, as install.sh's own tests do; then
// scripts/fleet-host.sh changes the rules on that host. The scripts are shellcheck-clean.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, scratchTempDirs } from '../support/processes.ts';
import { EXECUTABLE } from '../support/build.ts';
import { API_KEY_SHA256, CERTIFICATE_ARN, EXISTING_VPC, removeSynthesized, synth, withSharedStore } from '../support/infra.ts';
import { kitArchive, stageKit } from '../../infra/lib/release-kit.ts';
import { zipArchive } from '../../infra/lib/kit-archive.ts';
import { BOOT_FAILED_PATTERN } from '../../infra/lib/gateway-alarms.ts';
import { filterMatches } from '../support/dashboard-queries.ts';

setDefaultTimeout(240_000);

const NAME = 'sagemaker-mlflow-proxy';
const MLFLOW_ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/existing';
const ALB_ARN = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/gateway/0123456789abcdef';
const LOG_GROUP = 'MlflowProxy-GatewayTracking-GatewayLogs-abc';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:SharedLimitsPassword-AbCdEf';
const CACHE_HOST = 'mlflowproxy-gatewaytracking-abc123.serverless.use1.cache.amazonaws.com';

// Staging roots hold the ~110 MB executable twice (kit and install): removed when the file ends.
const tempDir = scratchTempDirs();
afterAll(removeSynthesized);

/** The launch template's user data with each CloudFormation reference replaced by what it resolves to in AWS. */
function synthesizedUserData(env: Record<string, string>, context: Record<string, string> = {}): string {
  const s = synth({ vpcId: EXISTING_VPC, mlflowArn: MLFLOW_ARN, certificateArn: CERTIFICATE_ARN, gatewayEnv: JSON.stringify(env), ...context });
  const template = s.templates['MlflowProxy-GatewayTracking']!;
  const [launchTemplate] = Object.values(template.findResources('AWS::EC2::LaunchTemplate')) as any[];
  const resolve = (part: unknown): string => {
    if (typeof part === 'string') return part;
    const o = part as { Ref?: string; 'Fn::GetAtt'?: [string, string]; 'Fn::Join'?: [string, unknown[]] };
    if (o['Fn::Join']) return o['Fn::Join'][1].map(resolve).join(o['Fn::Join'][0]);
    const ref = o.Ref ?? '';
    if (ref === 'AWS::StackName') return 'MlflowProxy-GatewayTracking';
    if (ref.startsWith('GatewayLogs')) return LOG_GROUP;
    if (ref.startsWith('Alb')) return ALB_ARN;
    if (ref.startsWith('SharedLimitsPassword')) return SECRET_ARN;
    const [id, attribute] = o['Fn::GetAtt'] ?? [];
    if (id?.startsWith('SharedLimitsCache') && attribute === 'Endpoint.Address') return CACHE_HOST;
    if (id?.startsWith('SharedLimitsCache') && attribute === 'Endpoint.Port') return '6379';
    throw new Error(`unexpected reference in the user data: ${JSON.stringify(part)}`);
  };
  return resolve(launchTemplate.Properties.LaunchTemplateData.UserData['Fn::Base64']);
}

function runUserData(script: string, root: string, kit: string | undefined, path = process.env.PATH, env: Record<string, string> = {}) {
  const file = join(tempDir('user-data'), 'user-data.sh');
  writeFileSync(file, script);
  const run = spawnSync('bash', [file], { encoding: 'utf8', env: { PATH: path, USERDATA_ROOT: root, ...(kit ? { USERDATA_KIT_DIR: kit } : {}), ...env }, timeout: 120_000 });
  return { code: run.status, out: `${run.stdout}${run.stderr}` };
}

/**
 * A directory with stand-ins for the AWS CLI and cfn-signal, as the user data calls them on a host:
 * `aws s3 cp --only-show-errors URL DEST` copies `zip` to DEST, or fails as S3 would when `zip` is
 * undefined; cfn-signal records its arguments. Every call is appended to `calls`.
 */
function standIns(zip: string | undefined): { bin: string; calls: string } {
  const bin = tempDir('bin');
  const calls = join(bin, 'calls.log');
  const download = zip ? `cp ${JSON.stringify(zip)} "$5"` : `echo "download failed: An error occurred (AccessDenied) when calling the GetObject operation: Access Denied" >&2; exit 1`;
  writeFileSync(join(bin, 'aws'), `#!/bin/bash\necho "aws $*" >>${JSON.stringify(calls)}\nif [ "$1 $2 $3" != "s3 cp --only-show-errors" ]; then echo "unexpected aws call: $*" >&2; exit 2; fi\n${download}\n`);
  writeFileSync(join(bin, 'cfn-signal'), `#!/bin/bash\necho "cfn-signal $*" >>${JSON.stringify(calls)}\n`);
  chmodSync(join(bin, 'aws'), 0o755);
  chmodSync(join(bin, 'cfn-signal'), 0o755);
  return { bin, calls };
}

const BOOT_LOG = `/var/log/${NAME}/user-data.log`;
const readIfThere = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : '');

/** The unit with its drop-ins under a staging root, checked by systemd-analyze verify (the host's own unit directory copied in). */
function verifyUnit(root: string) {
  for (const dir of ['/usr/lib/systemd/system', '/lib/systemd/system']) {
    if (existsSync(dir)) {
      mkdirSync(join(root, dir), { recursive: true });
      cpSync(dir, join(root, dir), { recursive: true, dereference: false, verbatimSymlinks: true });
      break;
    }
  }
  const run = spawnSync('systemd-analyze', ['verify', `--root=${root}`, `${NAME}.service`], { encoding: 'utf8' });
  return { error: run.error, out: run.stdout + run.stderr, code: run.status };
}

function fleetHost(root: string, ...args: string[]) {
  return fleetHostWith(process.env.PATH, root, ...args);
}

function fleetHostWith(path: string | undefined, root: string, ...args: string[]) {
  const run = spawnSync('bash', [join(REPO, 'scripts', 'fleet-host.sh'), '--root', root, ...args], { encoding: 'utf8', env: { PATH: path }, timeout: 60_000 });
  return { code: run.status, out: `${run.stdout}${run.stderr}` };
}

const sha256Of = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

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
    expect(agent.logs.logs_collected.files.collect_list).toEqual([
      { file_path: `/var/log/${NAME}/gateway.log`, log_group_name: LOG_GROUP, log_stream_name: '{instance_id}', timezone: 'UTC' },
      { file_path: BOOT_LOG, log_group_name: LOG_GROUP, log_stream_name: '{instance_id}/user-data', timezone: 'UTC' },
    ]);
    const rotate = readFileSync(join(root, 'etc/logrotate.d', NAME), 'utf8');
    expect(rotate).toContain(`/var/log/${NAME}/gateway.log {`);
    expect(rotate).toContain('copytruncate');
  });

  test('the unit with its drop-in passes systemd-analyze verify', () => {
    expect(verifyUnit(root)).toEqual({ error: undefined, out: '', code: 0 });
  });

  test('without the shared store there is no credential and no LoadCredential drop-in', () => {
    expect(existsSync(join(root, 'etc', NAME, 'credentials'))).toBe(false);
    expect(existsSync(join(root, 'etc/systemd/system', `${NAME}.service.d`, '20-valkey-credential.conf'))).toBe(false);
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

    test('upgrade S3_URL SHA256: a file whose SHA-256 is not the one given is refused before anything runs, and the release in force stays', () => {
      const installed = join(root, 'usr/local/bin', NAME);
      const before = sha256Of(installed);
      const substitute = join(tempDir('release'), NAME);
      writeFileSync(substitute, '#!/bin/sh\necho substituted\n');
      const { bin, calls } = standIns(substitute);
      const run = fleetHostWith(`${bin}:${process.env.PATH}`, root, 'upgrade', 's3://releases-bucket/releases/sagemaker-mlflow-proxy', sha256Of(EXECUTABLE));
      expect(run.code).toBe(1);
      expect(run.out).toContain(`has SHA-256 ${sha256Of(substitute)}, not ${sha256Of(EXECUTABLE)}: refusing to install it; the release in force is unchanged`);
      expect(readFileSync(calls, 'utf8')).toContain('aws s3 cp --only-show-errors s3://releases-bucket/releases/sagemaker-mlflow-proxy');
      expect(sha256Of(installed)).toBe(before);
      expect(existsSync(`${installed}.previous`)).toBe(false);
    });

    test('upgrade without the SHA-256 is refused without downloading anything', () => {
      const { bin, calls } = standIns(EXECUTABLE);
      const run = fleetHostWith(`${bin}:${process.env.PATH}`, root, 'upgrade', 's3://releases-bucket/releases/sagemaker-mlflow-proxy');
      expect(run.code).toBe(1);
      expect(run.out).toContain("upgrade needs the executable's SHA-256");
      expect(existsSync(calls)).toBe(false);
    });

    test('upgrade with the right SHA-256 hands it to install.sh --upgrade (here the release in force, so nothing changes)', () => {
      const { bin } = standIns(EXECUTABLE);
      const run = fleetHostWith(`${bin}:${process.env.PATH}`, root, 'upgrade', 's3://releases-bucket/releases/sagemaker-mlflow-proxy', sha256Of(EXECUTABLE));
      expect(run.out).toContain(`SHA-256 ${sha256Of(EXECUTABLE)}, as given`);
      expect(run.out).toContain('rules.yaml: OK');
      expect(run.out).toContain(`/usr/local/bin/${NAME} is already`);
      expect(run.code).toBe(0);
    });
  });
});

describe('first boot downloads the kit, refuses any other than the one the stack was synthesized with, and leaves its reasons where CloudWatch gets them', () => {
  let script: string;
  let archive: { file: string; sha256: string };
  beforeAll(() => {
    script = synthesizedUserData({ PROXY_API_KEY_SHA256: API_KEY_SHA256 });
    archive = kitArchive(EXECUTABLE, join(REPO, 'rules.yaml'));
  });
  const bootLog = (root: string) => readIfThere(join(root, BOOT_LOG));
  const collected = (root: string) =>
    (JSON.parse(readFileSync(join(root, 'opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json'), 'utf8')).logs.logs_collected.files.collect_list as Array<{ file_path: string; log_group_name: string }>)
      .filter((entry) => entry.log_group_name === LOG_GROUP)
      .map((entry) => entry.file_path);

  test('the kit the stack names: checked, installed, each step in the boot log the agent ships, and a success signal', () => {
    const root = tempDir('root');
    const { bin, calls } = standIns(archive.file);
    const result = runUserData(script, root, undefined, `${bin}:${process.env.PATH}`, { USERDATA_CFN_SIGNAL: join(bin, 'cfn-signal') });
    expect(result.out).toContain('user-data: done');
    expect(result.code).toBe(0);
    expect(script).toContain(`KIT_SHA256=${archive.sha256}\n`);
    expect(bootLog(root)).toContain(`SHA-256 ${archive.sha256}, as the stack expects`);
    expect(bootLog(root)).toContain('rules.yaml: OK');
    expect(collected(root)).toContain(BOOT_LOG);
    expect(readFileSync(join(root, 'etc', NAME, 'rules.yaml'), 'utf8')).toBe(readFileSync(join(REPO, 'rules.yaml'), 'utf8'));
    const signals = readFileSync(calls, 'utf8').split('\n').filter((line) => line.startsWith('cfn-signal'));
    expect(signals).toEqual([expect.stringMatching(/^cfn-signal -e 0 --stack MlflowProxy-GatewayTracking --resource HostsASG[0-9A-F]{8} --region us-east-1$/)]);
  });

  test('a substituted kit (anonymous access in its rules) is refused before it is unpacked: nothing installed, the reason in the boot log, a failure signal', () => {
    const root = tempDir('root');
    const kit = stageKit(EXECUTABLE, join(REPO, 'rules.yaml'));
    const tampered = join(tempDir('tampered'), 'kit.zip');
    const rules = `${readFileSync(join(kit, 'rules.yaml'), 'utf8')}\nanonymous:\n  policies: [log-runs]\n`;
    writeFileSync(tampered, zipArchive([
      { name: NAME, data: readFileSync(join(kit, NAME)), mode: 0o755 },
      { name: 'install.sh', data: readFileSync(join(kit, 'install.sh')), mode: 0o755 },
      { name: 'rules.yaml', data: Buffer.from(rules), mode: 0o644 },
    ]));
    const { bin, calls } = standIns(tampered);
    const result = runUserData(script, root, undefined, `${bin}:${process.env.PATH}`, { USERDATA_CFN_SIGNAL: join(bin, 'cfn-signal') });
    expect(result.code).not.toBe(0);
    const log = bootLog(root);
    expect(log).toContain(`the release kit's SHA-256 is ${sha256Of(tampered)}, not ${archive.sha256} (the stack's): refusing to install it`);
    expect(log).toContain('user-data: BOOT_FAILED while checking the release kit (exit 1)');
    // The stack's metric filter (BootFailures, whose alarm stops an instance refresh) counts that line, and only it.
    expect(log.split('\n').filter((line) => filterMatches(BOOT_FAILED_PATTERN, line))).toEqual(['user-data: BOOT_FAILED while checking the release kit (exit 1): this host will not serve; the lines above say why']);
    expect(log).not.toContain('user-data: done');
    // What CloudWatch gets: the agent's configuration (written first) ships this very file.
    expect(collected(root)).toContain(BOOT_LOG);
    expect(existsSync(join(root, 'usr/local/bin', NAME))).toBe(false);
    expect(existsSync(join(root, 'etc', NAME, 'rules.yaml'))).toBe(false);
    expect(existsSync(join(root, 'opt', NAME, 'kit', 'rules.yaml'))).toBe(false);
    expect(readFileSync(calls, 'utf8')).toContain('cfn-signal -e 1 ');
  });

  test('a download that keeps failing is retried, then leaves its line in the boot log and a failure signal', () => {
    const root = tempDir('root');
    const { bin, calls } = standIns(undefined);
    const result = runUserData(script, root, undefined, `${bin}:${process.env.PATH}`, { USERDATA_CFN_SIGNAL: join(bin, 'cfn-signal'), USERDATA_RETRY_SECONDS: '0' });
    expect(result.code).not.toBe(0);
    const log = bootLog(root);
    expect(log).toContain('Access Denied');
    expect(log).toMatch(/user-data: could not download the release kit s3:\/\/cdk-hnb659fds-assets-123456789012-us-east-1\/[0-9a-f]{64}\.zip \(5 attempts/);
    expect(log).toContain('user-data: BOOT_FAILED while downloading the release kit');
    expect(collected(root)).toContain(BOOT_LOG);
    const lines = readFileSync(calls, 'utf8').split('\n');
    expect(lines.filter((line) => line.startsWith('aws s3 cp'))).toHaveLength(5);
    expect(lines.filter((line) => line.startsWith('cfn-signal'))).toEqual([expect.stringMatching(/^cfn-signal -e 1 /)]);
  });
});

describe('first boot with the shared rate-limit store (-c sharedLimits=true, the fleet rules)', () => {
  const PASSWORD = 'Zq3'.repeat(21) + 'x';
  let root: string;
  let result: { code: number | null; out: string };
  beforeAll(() => {
    root = tempDir('root');
    const rules = join(tempDir('rules'), 'rules.yaml');
    writeFileSync(rules, withSharedStore(readFileSync(join(REPO, 'rules.yaml'), 'utf8')));
    const script = synthesizedUserData({ PROXY_API_KEY_SHA256: API_KEY_SHA256 }, { sharedLimits: 'true', rulesFile: rules });
    // A stand-in for the AWS CLI that answers exactly the call the user data must make, as
    // `--query SecretString --output text` does (the value and a newline), and refuses any other.
    const bin = tempDir('bin');
    writeFileSync(
      join(bin, 'aws'),
      `#!/bin/bash\nif [ "$*" != "secretsmanager get-secret-value --region us-east-1 --secret-id ${SECRET_ARN} --query SecretString --output text" ]; then echo "unexpected aws call: $*" >&2; exit 2; fi\nprintf '%s\\n' '${PASSWORD}'\n`,
    );
    chmodSync(join(bin, 'aws'), 0o755);
    result = runUserData(script, root, stageKit(EXECUTABLE, rules), `${bin}:${process.env.PATH}`);
  });

  test("fetches the password into a root-only file (0600 in a 0700 directory) and never prints it", () => {
    expect(result.out).toContain('user-data: done');
    expect(result.code).toBe(0);
    const credentials = join(root, 'etc', NAME, 'credentials');
    expect(readFileSync(join(credentials, 'valkey'), 'utf8')).toBe(`${PASSWORD}\n`);
    expect(statSync(join(credentials, 'valkey')).mode & 0o777).toBe(0o600);
    expect(statSync(credentials).mode & 0o777).toBe(0o700);
    expect(existsSync(join(credentials, 'valkey.new'))).toBe(false);
    expect(result.out).not.toContain(PASSWORD);
  });

  test('hands it to the unit as the credential valkey (LoadCredential=), and the unit with both drop-ins passes systemd-analyze verify', () => {
    const dropIn = readFileSync(join(root, 'etc/systemd/system', `${NAME}.service.d`, '20-valkey-credential.conf'), 'utf8');
    expect(dropIn.split('\n')).toContain(`LoadCredential=valkey:/etc/${NAME}/credentials/valkey`);
    expect(dropIn).not.toContain(PASSWORD);
    expect(verifyUnit(root)).toEqual({ error: undefined, out: '', code: 0 });
  });

  test("the environment file has the cache's endpoint and user, and install.sh's check passes with it", () => {
    const environment = readFileSync(join(root, 'etc', NAME, 'environment'), 'utf8').split('\n');
    expect(environment).toContain(`VALKEY_ENDPOINT=${CACHE_HOST}:6379`);
    expect(environment).toContain('VALKEY_USER=sagemaker-mlflow-proxy');
    expect(environment.join('\n')).not.toContain(PASSWORD);
    expect(result.out).toContain('rules.yaml: OK');
  });

  test('the installed rules read the password from the directory systemd names in CREDENTIALS_DIRECTORY', () => {
    // What `serve` loads under systemd: the installed rules, the environment file and the variable
    // LoadCredential= sets, through the gateway's own loader (infra/lib/rules-facts.ts).
    const environment = Object.fromEntries(
      readFileSync(join(root, 'etc', NAME, 'environment'), 'utf8').split('\n').filter((l) => /^[A-Z_][A-Z0-9_]*=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const run = spawnSync(join(REPO, 'node_modules', '.bin', 'bun'), [join(REPO, 'infra', 'lib', 'rules-facts.ts'), join(root, 'etc', NAME, 'rules.yaml')], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, ...environment, CREDENTIALS_DIRECTORY: `/run/credentials/${NAME}.service` },
    });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout).limitStore).toMatchObject({
      kind: 'valkey',
      url: `rediss://${CACHE_HOST}:6379`,
      cluster: true,
      username: 'sagemaker-mlflow-proxy',
      passwordFile: `/run/credentials/${NAME}.service/valkey`,
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
