// The app's settings, from CDK context (cdk.json's defaults, overridden with `-c key=value` on the
// command line). `-c` always gives strings, cdk.json gives JSON values: both are accepted. Every
// problem is collected and reported at once, as the gateway's own `check` does.
import { resolve } from 'node:path';
import type { Node } from 'constructs';
import { readMtlsSettings, type MtlsSettings } from './mtls-trust-store.ts';

export type MlflowMode = 'tracking-server' | 'mlflow-app';

/** The ALB's OIDC sign-in (listener action authenticate-oidc); the gateway must have `auth.alb`. */
export interface OidcSettings {
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  userInfoEndpoint: string;
  clientId: string;
  /** A Secrets Manager secret holding the client secret (plain string), by name or ARN. */
  clientSecretName: string;
  scope: string;
  /** Paths where a browser without a session is sent to sign in; elsewhere the ALB lets unauthenticated requests through to the gateway (API keys, JWTs). */
  signInPaths: string[];
}

export interface AppConfig {
  mlflowMode: MlflowMode;
  /** An existing VPC (Vpc.fromLookup) instead of the Network stack. */
  vpcId: string | undefined;
  natGateways: number;
  createDomain: boolean;
  /** An existing tracking server or MLflow App instead of the MLflow stack. */
  mlflowArn: string | undefined;
  mlflowVersion: string | undefined;
  trackingServerSize: string;
  rulesFile: string;
  releaseBinary: string;
  certificateArn: string | undefined;
  allowHttp: boolean;
  albIngressCidr: string;
  internetFacing: boolean;
  oidc: OidcSettings | undefined;
  /** The HTTPS listener's mutual TLS (mtls-trust-store.ts); the rules must have auth.albMtls in the same mode. */
  mtls: MtlsSettings | undefined;
  /**
   * The fleet's shared rate-limit store: an ElastiCache Serverless (Valkey) cache, its RBAC user and
   * the user's password in Secrets Manager. On exactly when the rules have limits.store.kind valkey
   * pointing at it (gateway-stack.ts refuses the other combinations).
   */
  sharedLimits: boolean;
  /** The environment file's settings for the hosts (besides MLFLOW_ARN, PORT, TRUST_FORWARDED_FOR, ALB_ARN). */
  gatewayEnv: Record<string, string>;
  instanceType: string;
  minHosts: number;
  maxHosts: number;
  alarmEmail: string | undefined;
  /** Where `scripts/fleet.sh upgrade` puts releases for in-place upgrades (the hosts may read s3://NAME/releases/*). */
  releaseBucketName: string | undefined;
}

export class ConfigError extends Error {}

/** Relative paths in context are relative to infra/ (where cdk.json is), whatever the working directory. */
const INFRA_DIR = resolve(import.meta.dir, '..');

export function readConfig(node: Node): AppConfig {
  const problems: string[] = [];
  const raw = (key: string): unknown => node.tryGetContext(key);
  const str = (key: string): string | undefined => {
    const value = raw(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') {
      problems.push(`${key}: expected a string, got ${JSON.stringify(value)}`);
      return undefined;
    }
    return value;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const value = raw(key);
    if (value === undefined || value === null || value === '') return fallback;
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    problems.push(`${key}: expected true or false, got ${JSON.stringify(value)}`);
    return fallback;
  };
  const int = (key: string, fallback: number, min: number): number => {
    const value = raw(key);
    if (value === undefined || value === null || value === '') return fallback;
    const n = typeof value === 'number' ? value : Number(value);
    if (!Number.isInteger(n) || n < min) {
      problems.push(`${key}: expected an integer ≥ ${min}, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return n;
  };
  const json = (key: string): unknown => {
    const value = raw(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value);
    } catch {
      problems.push(`${key}: not valid JSON`);
      return undefined;
    }
  };

  const mode = str('mlflowMode') ?? 'tracking-server';
  if (mode !== 'tracking-server' && mode !== 'mlflow-app') problems.push(`mlflowMode: expected tracking-server or mlflow-app, got ${JSON.stringify(mode)}`);
  const mlflowArn = str('mlflowArn');
  if (mlflowArn) {
    const kind = /^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:(mlflow-tracking-server|mlflow-app)\/.+$/.exec(mlflowArn)?.[1];
    if (!kind) problems.push(`mlflowArn: not a SageMaker MLflow tracking server or MLflow App ARN: ${mlflowArn}`);
    else if ((kind === 'mlflow-app') !== (mode === 'mlflow-app')) problems.push(`mlflowArn is an ${kind} ARN but mlflowMode is ${mode}`);
  }
  const minHosts = int('minHosts', 2, 2);
  const maxHosts = int('maxHosts', 4, 2);
  if (maxHosts < minHosts) problems.push(`maxHosts (${maxHosts}) is below minHosts (${minHosts})`);

  const allowHttp = bool('allowHttp', false);
  const certificateArn = str('certificateArn');
  if (!certificateArn && !allowHttp) {
    problems.push('certificateArn: the HTTPS listener needs an ACM certificate ARN (-c certificateArn=arn:aws:acm:REGION:ACCOUNT:certificate/ID); plain HTTP only with -c allowHttp=true');
  }

  const oidcRaw = json('oidc');
  let oidc: OidcSettings | undefined;
  if (oidcRaw !== undefined) {
    const o = oidcRaw as Record<string, unknown>;
    const need = ['issuer', 'authorizationEndpoint', 'tokenEndpoint', 'userInfoEndpoint', 'clientId', 'clientSecretName'] as const;
    const missing = need.filter((k) => typeof o[k] !== 'string' || o[k] === '');
    if (typeof oidcRaw !== 'object' || oidcRaw === null || missing.length) {
      problems.push(`oidc: needs ${need.join(', ')} (missing: ${missing.join(', ')})`);
    } else {
      const paths = o.signInPaths === undefined ? ['/ui', '/ui/*'] : o.signInPaths;
      if (!Array.isArray(paths) || paths.some((p) => typeof p !== 'string' || !p.startsWith('/'))) problems.push('oidc.signInPaths: expected a list of paths starting with /');
      oidc = {
        issuer: o.issuer as string,
        authorizationEndpoint: o.authorizationEndpoint as string,
        tokenEndpoint: o.tokenEndpoint as string,
        userInfoEndpoint: o.userInfoEndpoint as string,
        clientId: o.clientId as string,
        clientSecretName: o.clientSecretName as string,
        scope: typeof o.scope === 'string' ? o.scope : 'openid email',
        signInPaths: (paths as string[]) ?? [],
      };
    }
  }

  const envRaw = json('gatewayEnv') ?? {};
  const gatewayEnv: Record<string, string> = {};
  if (typeof envRaw !== 'object' || envRaw === null || Array.isArray(envRaw)) problems.push('gatewayEnv: expected a JSON object of KEY: "value"');
  else {
    for (const [key, value] of Object.entries(envRaw)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) || typeof value !== 'string' || /[\n\r]/.test(value)) problems.push(`gatewayEnv.${key}: expected KEY: "one-line value"`);
      else gatewayEnv[key] = value;
    }
  }
  const apiKeySha256 = str('apiKeySha256');
  if (apiKeySha256 !== undefined) {
    if (!/^[0-9a-f]{64}$/.test(apiKeySha256)) problems.push('apiKeySha256: expected the 64 hex digits `hash-key` prints');
    else gatewayEnv.PROXY_API_KEY_SHA256 = apiKeySha256;
  }

  const config: AppConfig = {
    mlflowMode: mode as MlflowMode,
    vpcId: str('vpcId'),
    natGateways: int('natGateways', 1, 1),
    createDomain: bool('createDomain', false),
    mlflowArn,
    mlflowVersion: str('mlflowVersion'),
    trackingServerSize: str('trackingServerSize') ?? 'Small',
    rulesFile: resolve(INFRA_DIR, str('rulesFile') ?? '../rules.yaml'),
    releaseBinary: resolve(INFRA_DIR, str('releaseBinary') ?? '../dist/sagemaker-mlflow-proxy'),
    certificateArn,
    allowHttp,
    albIngressCidr: str('albIngressCidr') ?? '0.0.0.0/0',
    internetFacing: bool('internetFacing', true),
    oidc,
    mtls: readMtlsSettings(json('mtls'), problems),
    sharedLimits: bool('sharedLimits', false),
    gatewayEnv,
    instanceType: str('instanceType') ?? 't3.small',
    minHosts,
    maxHosts,
    alarmEmail: str('alarmEmail'),
    releaseBucketName: str('releaseBucketName'),
  };
  if (problems.length) throw new ConfigError(`infra: ${problems.length} problem(s) in the CDK context:\n  ${problems.join('\n  ')}`);
  return config;
}
