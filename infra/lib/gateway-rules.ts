// The rules file, read at synth time by the gateway's own code, never re-interpreted here:
//   - the instance role's policy is the output of `sagemaker-mlflow-proxy iam-policy --rules FILE`
//     (src/main.ts, src/iam-policy.ts), so security reviews one file and one command;
//   - the target group's deregistration delay, the listener port, the readiness path and whether
//     the ALB's OIDC sign-in is expected come from the same file through the gateway's loader
//     (rules-facts.ts, in a child process).
// Both run with the environment the hosts will have (the environment file the user data writes).
// Values that are CloudFormation tokens at synth time (the MLflow ARN from the MLflow stack, the
// ALB's ARN) are given to the gateway as placeholders of the right shape and put back as tokens
// in the policy afterwards.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { Token } from 'aws-cdk-lib';
import type { MlflowMode } from './config.ts';

export const REPO = resolve(import.meta.dir, '..', '..');

export interface IamStatement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Condition?: unknown;
}
export interface IamPolicyDocument {
  Version: string;
  Statement: IamStatement[];
}

export interface RulesFacts {
  listenPort: number;
  trustForwardedFor: boolean;
  readinessPath: string;
  drainSeconds: number;
  finishSeconds: number;
  albAuth: boolean;
  albArn: string | undefined;
  /** auth.albMtls.mode: the listener's mutual TLS must match (mtls-trust-store.ts). */
  albMtlsMode: 'verify' | 'passthrough' | undefined;
  backendKind: 'sagemaker' | 'self-hosted';
  /** backend.timeoutSeconds: how long the gateway waits for the backend's response headers. */
  backendTimeoutSeconds: number;
  /** The gateway listener's keep-alive idle timeout on the hosts (Bun). */
  listenerIdleTimeoutSeconds: number;
  /** backend.assumeRoleArn (MLFLOW_ASSUME_ROLE_ARN in the shipped rules): the role every MLflow call is signed with. */
  backendAssumeRoleArn: string | undefined;
  /** `check`'s warnings, FILE:LINE:COL: key: warning: message. */
  warnings: string[];
  /** limits.store as loaded (${VAR} expanded, defaults applied); undefined: no store, kind local. */
  limitStore: LimitStoreFacts | undefined;
}

export interface LimitStoreFacts {
  kind: 'local' | 'valkey';
  url?: string;
  cluster: boolean;
  username?: string;
  passwordFile?: string;
  passwordEnv?: string;
  caFile?: string;
  keyPrefix: string;
}

/** The JavaScript runtime for the gateway's code: this one when it is Bun (cdk.json runs the app with Bun), else the project's. */
function bun(): string {
  return process.versions.bun ? process.execPath : join(REPO, 'node_modules', '.bin', 'bun');
}

/** Placeholder values the gateway's validation accepts, one per variable whose real value is a token. */
export function placeholderFor(name: string, index: number, mode: MlflowMode, region: string): string {
  const partition = region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';
  if (name === 'MLFLOW_ARN') {
    return mode === 'mlflow-app'
      ? `arn:${partition}:sagemaker:${region}:000000000000:mlflow-app/app-cdkplaceholder${index}`
      : `arn:${partition}:sagemaker:${region}:000000000000:mlflow-tracking-server/cdk-placeholder-${index}`;
  }
  if (name === 'ALB_ARN') return `arn:${partition}:elasticloadbalancing:${region}:000000000000:loadbalancer/app/cdk-placeholder-${index}/000000000000000${index}`;
  return `cdkplaceholder${index}x`;
}

// How CDK encodes a token inside a string (`${Token[NAME.123]}`): each one gets its own placeholder.
const ENCODED_TOKEN = /\$\{Token\[[^\]]*\]\}/g;

/**
 * The environment for the gateway's code: tokens replaced by placeholders, and how to put them
 * back. A value that is one ARN token gets an ARN of the right kind; a token inside a longer value
 * (e.g. s3://${bucket}/mlflow) gets a lower-case word that is valid in bucket names and paths.
 */
function concreteEnv(env: Record<string, string>, mode: MlflowMode, region: string) {
  const concrete: Record<string, string> = {};
  const substitutions: Array<[string, string]> = [];
  let index = 0;
  for (const [name, value] of Object.entries(env)) {
    if (!Token.isUnresolved(value)) {
      concrete[name] = value;
      continue;
    }
    const whole = value.match(ENCODED_TOKEN);
    if ((name === 'MLFLOW_ARN' || name === 'ALB_ARN') && whole?.length === 1 && whole[0] === value) {
      const placeholder = placeholderFor(name, index++, mode, region);
      concrete[name] = placeholder;
      substitutions.push([placeholder, value]);
      continue;
    }
    concrete[name] = value.replace(ENCODED_TOKEN, (token) => {
      const placeholder = `cdkplaceholder${index++}x`;
      substitutions.push([placeholder, token]);
      return placeholder;
    });
    if (Token.isUnresolved(concrete[name]!)) throw new Error(`${name}: a value the gateway's code cannot be given at synth time (${value})`);
  }
  return { concrete, substitutions };
}

function run(args: string[], env: Record<string, string>, what: string): { stdout: string; stderr: string } {
  // Only the hosts' variables (plus PATH): a developer's shell must not change what is synthesized.
  const result = spawnSync(bun(), args, { cwd: REPO, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: 60_000 });
  if (result.status !== 0) {
    throw new Error(`${what} failed (exit ${result.status ?? result.signal}):\n${result.stderr || result.error?.message || ''}`);
  }
  return { stdout: result.stdout, stderr: result.stderr };
}

function putBack<T>(value: T, substitutions: Array<[string, string]>): T {
  if (typeof value === 'string') {
    let out: string = value;
    for (const [placeholder, token] of substitutions) out = out.split(placeholder).join(token);
    return out as T;
  }
  if (Array.isArray(value)) return value.map((v) => putBack(v, substitutions)) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, putBack(v, substitutions)])) as T;
  return value;
}

/** `iam-policy --rules FILE` with the hosts' environment; tokens in that environment come back as tokens in the policy. */
export function gatewayIamPolicy(rulesFile: string, env: Record<string, string>, mode: MlflowMode, region: string): { policy: IamPolicyDocument; notes: string[] } {
  const { concrete, substitutions } = concreteEnv(env, mode, region);
  const { stdout, stderr } = run(['src/main.ts', 'iam-policy', '--rules', rulesFile], concrete, `sagemaker-mlflow-proxy iam-policy --rules ${rulesFile}`);
  // What the policy cannot say by itself (iamPolicyNotes, e.g. a discovered artifact root), minus
  // the line naming whose policy it is: the stack shows them as synth warnings.
  const notes = stderr.split('\n').filter((line) => line.trim() && !line.startsWith('Policy for '));
  return { policy: putBack(JSON.parse(stdout) as IamPolicyDocument, substitutions), notes: notes.map((n) => putBack(n, substitutions)) };
}

/** The settings the stack must agree with, read by the gateway's own loader. */
export function rulesFacts(rulesFile: string, env: Record<string, string>, mode: MlflowMode, region: string): RulesFacts {
  const { concrete, substitutions } = concreteEnv(env, mode, region);
  const { stdout } = run([join(REPO, 'infra', 'lib', 'rules-facts.ts'), rulesFile], concrete, `reading ${rulesFile} with the gateway's loader`);
  return putBack(JSON.parse(stdout) as RulesFacts, substitutions);
}
