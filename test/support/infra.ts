// The infra/ CDK app synthesized in-process, as `cdk synth` would (cdk.json's context, the same
// buildApp), with a dummy account and region, two named Availability Zones (the answer a context
// lookup would cache) and the release built by scripts/build.sh. Plus cfn-lint from its pinned
// venv (scripts/setup-python.sh) and cdk-nag's AwsSolutions pack.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { App, AwsSolutionsChecks, Template } from '../../infra/lib/testing.ts';
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

/** cdk-nag's AwsSolutions findings that no acknowledgment covers. */
export function nagFindings(app: App): Finding[] {
  const result = new AwsSolutionsChecks(app).validateScope(app);
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
