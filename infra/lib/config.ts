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
  /** Accounts besides this one (and a backend's) whose principals may use the VPC endpoints. */
  endpointAccounts: string[];
  createDomain: boolean;
  /** An existing tracking server or MLflow App instead of the MLflow stack. */
  mlflowArn: string | undefined;
  mlflowVersion: string | undefined;
  /** The tracking server's or App's name (default: the MLflow stack's name). */
  mlflowName: string | undefined;
  trackingServerSize: string;
  rulesFile: string;
  releaseBinary: string;
  certificateArn: string | undefined;
  allowHttp: boolean;
  /**
   * Who may reach the ALB: IPv4 CIDR blocks. Empty: the VPC's own range only (internal ALB). An
   * internet-facing ALB needs the list written out; 0.0.0.0/0 is accepted only as written.
   */
  albIngressCidrs: string[];
  /** false (the default): an internal ALB in the hosts' private subnets. */
  internetFacing: boolean;
  /** Refuse `cdk destroy` and console deletes of the ALB until this is turned off and deployed. */
  albDeletionProtection: boolean;
  /** The web ACL in front of the ALB: this stack's own (managed rule groups, a rate-based rule), an existing one by ARN, or none. */
  waf: { kind: 'own'; ratePerFiveMinutes: number } | { kind: 'existing'; webAclArn: string } | { kind: 'none' };
  /** Accept a rules file that `check` warns about (each warning then a synth warning): off, so what is deployed passes `check --strict`. */
  allowRuleWarnings: boolean;
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
  /** A fixed AMI; otherwise Amazon Linux 2023's latest, looked up once and kept in cdk.context.json. */
  amiId: string | undefined;
  minHosts: number;
  maxHosts: number;
  /** Where alarms go: addresses subscribed to the stack's topic, or an existing topic (one of the two is required). */
  alarmEmails: string[];
  alarmTopicArn: string | undefined;
  /** Where `scripts/fleet.sh upgrade` puts releases for in-place upgrades (the hosts may read s3://NAME/releases/*). */
  releaseBucketName: string | undefined;
}

export class ConfigError extends Error {}

/** Requests per client address in 5 minutes before the web ACL's rate-based rule blocks (≈ 33 a second). */
export const DEFAULT_WAF_RATE_LIMIT = 10_000;

function isIpv4Cidr(value: string): boolean {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
  return !!match && match.slice(1, 5).every((octet) => Number(octet) <= 255) && Number(match[5]) <= 32;
}

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

  /** A list from `-c key=a,b` or cdk.json's JSON array. */
  const list = (key: string): string[] => {
    const value = raw(key);
    if (value === undefined || value === null || value === '') return [];
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.map((v) => v.trim());
    if (typeof value === 'string') return value.split(',').map((v) => v.trim()).filter(Boolean);
    problems.push(`${key}: expected a comma-separated list or a JSON array of strings, got ${JSON.stringify(value)}`);
    return [];
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

  // Who reaches the ALB (issue 20: closed unless the operator opens it).
  if (raw('albIngressCidr') !== undefined) problems.push('albIngressCidr: renamed albIngressCidrs (a list); an internet-facing ALB has no default range any more');
  const internetFacing = bool('internetFacing', false);
  const albIngressCidrs = list('albIngressCidrs');
  for (const cidr of albIngressCidrs) if (!isIpv4Cidr(cidr)) problems.push(`albIngressCidrs: ${JSON.stringify(cidr)} is not an IPv4 CIDR block (a.b.c.d/n)`);
  if (internetFacing && albIngressCidrs.length === 0) {
    problems.push('albIngressCidrs: an internet-facing ALB (-c internetFacing=true) needs the client ranges written out, e.g. -c albIngressCidrs=203.0.113.0/24,198.51.100.0/24 (0.0.0.0/0 admits everyone, and is accepted only written out)');
  }

  const webAclArn = str('webAclArn');
  const wafOn = bool('waf', true);
  const ratePerFiveMinutes = int('wafRateLimit', DEFAULT_WAF_RATE_LIMIT, 10);
  if (webAclArn && !/^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:\d{12}:regional\/webacl\/.+$/.test(webAclArn)) problems.push(`webAclArn: not a regional WAFv2 web ACL ARN (arn:aws:wafv2:REGION:ACCOUNT:regional/webacl/NAME/ID): ${webAclArn}`);
  if (webAclArn && !wafOn) problems.push('webAclArn and waf=false: say one of the two');
  const waf: AppConfig['waf'] = webAclArn ? { kind: 'existing', webAclArn } : wafOn ? { kind: 'own', ratePerFiveMinutes } : { kind: 'none' };

  const alarmEmails = list('alarmEmail');
  for (const address of alarmEmails) if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(address)) problems.push(`alarmEmail: ${JSON.stringify(address)} is not an e-mail address`);
  const alarmTopicArn = str('alarmTopicArn');
  if (alarmTopicArn && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:.+$/.test(alarmTopicArn)) problems.push(`alarmTopicArn: not an SNS topic ARN: ${alarmTopicArn}`);
  if (alarmEmails.length === 0 && !alarmTopicArn) {
    problems.push('alarmEmail: alarms need someone to hear them: -c alarmEmail=ops@example.com (one or more, comma-separated; each confirms the subscription by e-mail), or -c alarmTopicArn=ARN for an existing SNS topic');
  }

  const mlflowName = str('mlflowName');
  if (mlflowName && !/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$/.test(mlflowName)) problems.push(`mlflowName: letters, digits and hyphens, starting and ending with a letter or digit (SageMaker's pattern): ${mlflowName}`);
  const endpointAccounts = list('endpointAccounts');
  for (const account of endpointAccounts) if (!/^\d{12}$/.test(account)) problems.push(`endpointAccounts: ${JSON.stringify(account)} is not a 12-digit account id`);

  const amiId = str('amiId');
  if (amiId && !/^ami-[0-9a-f]{8,17}$/.test(amiId)) problems.push(`amiId: not an AMI id (ami-0123456789abcdef0): ${amiId}`);

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
  // The key's expiry (PROXY_API_KEY_EXPIRES): the shipped rules read it, and a key without one is a
  // `check` warning, which the stack refuses (allowRuleWarnings) — so the stack requires it.
  const apiKeyExpires = str('apiKeyExpires');
  if (apiKeyExpires !== undefined) {
    const at = Date.parse(apiKeyExpires);
    if (!/^\d{4}-\d{2}-\d{2}(T[0-9:.]+Z)?$/.test(apiKeyExpires) || Number.isNaN(at)) problems.push(`apiKeyExpires: expected a date (2027-06-30) or a UTC date-time (2027-06-30T12:00:00Z), got ${JSON.stringify(apiKeyExpires)}`);
    else if (at <= Date.now()) problems.push(`apiKeyExpires: ${apiKeyExpires} is in the past: the hosts would refuse the key`);
    else gatewayEnv.PROXY_API_KEY_EXPIRES = apiKeyExpires;
  }

  const config: AppConfig = {
    mlflowMode: mode as MlflowMode,
    vpcId: str('vpcId'),
    // One per AZ: with one, an outage of its AZ cuts every host off from what has no VPC endpoint
    // (MLflow Apps, identity providers, package repositories). 1 saves ≈ $33 a month (docs/deploy-aws.md).
    natGateways: int('natGateways', 2, 1),
    endpointAccounts,
    createDomain: bool('createDomain', false),
    mlflowArn,
    mlflowVersion: str('mlflowVersion'),
    mlflowName,
    trackingServerSize: str('trackingServerSize') ?? 'Small',
    rulesFile: resolve(INFRA_DIR, str('rulesFile') ?? '../rules.yaml'),
    releaseBinary: resolve(INFRA_DIR, str('releaseBinary') ?? '../dist/sagemaker-mlflow-proxy'),
    certificateArn,
    allowHttp,
    albIngressCidrs,
    internetFacing,
    albDeletionProtection: bool('albDeletionProtection', true),
    waf,
    allowRuleWarnings: bool('allowRuleWarnings', false),
    oidc,
    mtls: readMtlsSettings(json('mtls'), problems),
    sharedLimits: bool('sharedLimits', false),
    gatewayEnv,
    instanceType: str('instanceType') ?? 't3.small',
    amiId,
    minHosts,
    maxHosts,
    alarmEmails,
    alarmTopicArn,
    releaseBucketName: str('releaseBucketName'),
  };
  if (problems.length) throw new ConfigError(`infra: ${problems.length} problem(s) in the CDK context:\n  ${problems.join('\n  ')}`);
  return config;
}
