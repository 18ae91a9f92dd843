// The infra/ CDK app synthesized in-process, as `cdk synth` would (cdk.json's context, the same
// buildApp), with a dummy account and region, two named Availability Zones (the answer a context
// lookup would cache) and the release built by scripts/build.sh. Plus cfn-lint from its pinned
// venv (scripts/setup-python.sh) and cdk-nag's AwsSolutions pack.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { App, AwsSolutionsChecks, NIST80053R5Checks, Template } from '../../infra/lib/testing.ts';
import { buildApp, type BuiltApp } from '../../infra/lib/build-app.ts';
import { REPO, tempDir } from './processes.ts';
import { buildArtifacts } from './build.ts';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';
export const AZS = ['us-east-1a', 'us-east-1b'];
export const CERTIFICATE_ARN = `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/11111111-2222-3333-4444-555555555555`;
export const API_KEY_SHA256 = 'c'.repeat(64);
const VENV_ROOT = process.env.PROXY_VENV_ROOT ?? join(REPO, '.cache', 'venvs');
export const CFN_LINT = join(VENV_ROOT, 'cfn-lint', 'bin', 'cfn-lint');

export interface Synthesized {
  built: BuiltApp;
  app: App;
  outdir: string;
  templates: Record<string, Template>;
  /** Stack name → the synthesized template file. */
  files: Record<string, string>;
}

const outdirs: string[] = [];
/** Removes every cloud assembly this process synthesized (call from afterAll). */
export function removeSynthesized(): void {
  for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** The answer `cdk synth` caches in cdk.context.json for -c vpcId=EXISTING_VPC (Vpc.fromLookup). */
export const EXISTING_VPC = 'vpc-0123456789abcdef0';
const subnet = (n: number, az: string) => ({ subnetId: `subnet-0000000000000000${n}`, cidr: `10.1.${n}.0/24`, availabilityZone: az, routeTableId: `rtb-0000000000000000${n}` });
const EXISTING_VPC_LOOKUP = {
  [`vpc-provider:account=${ACCOUNT}:filter.vpc-id=${EXISTING_VPC}:region=${REGION}:returnAsymmetricSubnets=true`]: {
    vpcId: EXISTING_VPC,
    vpcCidrBlock: '10.1.0.0/16',
    ownerAccountId: ACCOUNT,
    availabilityZones: [],
    subnetGroups: [
      { name: 'Public', type: 'Public', subnets: [subnet(1, AZS[0]!), subnet(2, AZS[1]!)] },
      { name: 'Private', type: 'Private', subnets: [subnet(3, AZS[0]!), subnet(4, AZS[1]!)] },
    ],
  },
};

/** The answer `cdk synth` caches for the hosts' AMI (Amazon Linux 2023's latest, looked up once: rollout.ts). */
export const HOST_AMI = 'ami-0123456789abcdef0';
const AMI_LOOKUP = Object.fromEntries(
  ['x86_64', 'arm64'].map((cpu) => [`ssm:account=${ACCOUNT}:parameterName=/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-${cpu}:region=${REGION}`, HOST_AMI]),
);
/** The options every deployment must give (an address for the alarms, the key's expiry); a test may override each ('' removes it). */
export const REQUIRED_CONTEXT = { alarmEmail: 'mlflow-ops@example.com', apiKeyExpires: '2099-12-31' };

export function synth(context: Record<string, unknown>): Synthesized {
  buildArtifacts();
  const cdkJson = JSON.parse(readFileSync(join(REPO, 'infra', 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  const outdir = tempDir('cdk');
  outdirs.push(outdir);
  const app = new App({
    outdir,
    context: {
      ...cdkJson.context,
      [`availability-zones:account=${ACCOUNT}:region=${REGION}`]: AZS,
      ...EXISTING_VPC_LOOKUP,
      ...AMI_LOOKUP,
      ...REQUIRED_CONTEXT,
      // The kit folder stays where release-kit.ts staged it: no copy of the ~110 MB executable per synth.
      'aws:cdk:disable-asset-staging': true,
      ...context,
    },
  });
  const built = buildApp(app, { account: ACCOUNT, region: REGION });
  const assembly = app.synth();
  if (assembly.manifest.missing?.length) throw new Error(`synth needs context it would look up in AWS: ${assembly.manifest.missing.map((m) => m.key).join(', ')}`);
  const templates: Record<string, Template> = {};
  const files: Record<string, string> = {};
  for (const stack of assembly.stacks) {
    templates[stack.stackName] = Template.fromJSON(stack.template as Record<string, unknown>);
    files[stack.stackName] = join(outdir, stack.templateFile);
  }
  return { built, app, outdir, templates, files };
}

export interface Finding {
  severity: 'error' | 'warning';
  rule: string;
  paths: string[];
}

/** cdk-nag's findings that no acknowledgment covers: the AwsSolutions pack, or NIST 800-53 rev 5's. */
export function nagFindings(app: App, pack: 'AwsSolutions' | 'NIST.800.53.R5' = 'AwsSolutions'): Finding[] {
  const checks = pack === 'AwsSolutions' ? new AwsSolutionsChecks(app) : new NIST80053R5Checks(app);
  const result = checks.validateScope(app);
  return result.violations.map((v) => ({ severity: v.severity as 'error' | 'warning', rule: v.ruleName, paths: v.violatingResources.map((r) => r.constructPath ?? '?') }));
}

export interface LintMatch {
  Level: 'Error' | 'Warning' | 'Informational';
  Rule: { Id: string };
  Message: string;
  Filename: string;
}

/** cfn-lint on every template of a cloud assembly, its findings as JSON. */
export function cfnLint(outdir: string): LintMatch[] {
  const files = readdirSync(outdir).filter((f) => f.endsWith('.template.json')).map((f) => join(outdir, f));
  const run = spawnSync(CFN_LINT, ['--format', 'json', '--', ...files], { encoding: 'utf8', timeout: 180_000 });
  if (run.error) throw new Error(`${CFN_LINT}: ${run.error.message} (scripts/setup-python.sh installs it)`);
  // Exit codes are bit flags (2 errors, 4 warnings, 8 informational); anything else is a crash.
  if (run.status === null || (run.status & 1) === 1 || !run.stdout.trim().startsWith('[')) throw new Error(`cfn-lint failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
  return JSON.parse(run.stdout) as LintMatch[];
}

/**
 * A rules file with the shipped rules.yaml's commented `limits.store` example turned on: the fleet's
 * shared store as the Gateway stack's cache (-c sharedLimits=true) expects it.
 */
export function withSharedStore(rules: string): string {
  const example = /^  # store:\n(?:  # {3}.*\n)+/m;
  if (!example.test(rules)) throw new Error('rules.yaml no longer has the commented limits.store example');
  return rules.replace(example, (block) => block.replace(/^ {2}# ?/gm, '  '));
}

export type Resource = { id: string; type: string; props: Record<string, any>; resource: Record<string, any> };

/** A template's resources (of one type, if given), each with its logical id, properties and whole entry. */
export function resourcesOf(template: Template, type?: string): Resource[] {
  const all = (template.toJSON() as { Resources: Record<string, any> }).Resources;
  return Object.entries(all)
    .filter(([, r]) => type === undefined || r.Type === type)
    .map(([id, r]) => ({ id, type: r.Type, props: r.Properties ?? {}, resource: r }));
}

/** The one resource of a type (throws when there are none or several). */
export function oneOf(template: Template, type: string): Resource {
  const found = resourcesOf(template, type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0]!;
}

/** Warnings the app's constructs left at synth (Annotations), as text. */
export function synthWarnings(s: Synthesized): string[] {
  return s.app.node.findAll().flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:warning').map((m) => String(m.data)));
}
