// Turns schema-valid rules into the matchers the pipeline runs: the backend (from the ARN or URL),
// rewrite functions, the identity directory (key hashes, password hashes, token subjects, groups)
// and flattened policies. Every semantic problem is
// reported with its key path (the caller adds file:line:col); nothing here throws on bad input.
import type { AlbOidcSpec, ClientSpec, JwtIssuerSpec, PolicySpec, RateLimitSpec, RewriteRuleSpec, Rules } from './schema.ts';
import { withMethod, type Identity, type Profile, type RateLimit } from '../auth/identity.ts';
import { parsePasswordHash, type ParsedHash } from '../auth/password.ts';
import type { KeyPath, ProblemList } from './problems.ts';
import { sagemakerBackend, type SageMakerBackend } from '../backends/sagemaker.ts';
import { plainMlflowBackend, type PlainMlflowBackend } from '../backends/mlflow.ts';
import { escapeRegExp, expandOperationPattern, suggestOperations } from './operations.ts';

export type Backend = SageMakerBackend | PlainMlflowBackend;

export interface CompiledRewrite {
  name: string;
  /** Returns the rewritten path, or undefined when the rule does not apply. */
  apply(path: string): string | undefined;
}

/** Restrictions a policy puts on its own grants (see schema.ts, Conditions). */
export interface PolicyConditions {
  experimentNamePrefixes: ReadonlyArray<string>;
}

/** Where a permission comes from: the policy that wrote it (an included one, possibly) and its conditions. */
export interface GrantOrigin {
  policy: string;
  conditions?: PolicyConditions;
}

export interface PathGrant extends GrantOrigin {
  methods: ReadonlySet<string> | '*';
  pattern: RegExp;
  source: string;
}

export interface CompiledPolicy {
  name: string;
  /** operation → where the grant comes from (this policy or an included one) */
  operations: ReadonlyMap<string, GrantOrigin>;
  grants: ReadonlyArray<PathGrant>;
}

export interface StoredApiKey {
  identity: Identity;
  /** Refused from this instant on (epoch ms). */
  expiresAtMs?: number;
}

export interface StoredPassword {
  identity: Identity;
  hash: ParsedHash;
}

export interface CompiledJwtIssuer {
  issuer: string;
  jwksUrl?: string;
  audiences: string[];
  algorithms: string[];
  clockSkewSeconds: number;
  subjectClaim: string;
  groupsClaim: string;
  jwksCooldownMs: number;
}

export interface CompiledAlbOidc {
  albArn: string;
  keyEndpoint: string;
  clockSkewSeconds: number;
  subjectClaim: string;
  groupsClaim: string;
}

export interface CompiledAuth {
  /** The WWW-Authenticate challenge(s) a 401 carries: Basic only when some client has a password. */
  challenge: string;
  /** hex SHA-256 of an API key → identity */
  apiKeys: ReadonlyMap<string, StoredApiKey>;
  /** client id (the Basic user name) → its password hash */
  passwords: ReadonlyMap<string, StoredPassword>;
  /** token subject → the client it acts as */
  subjects: ReadonlyMap<string, Profile>;
  /** group name → its profile, in file order */
  groups: ReadonlyMap<string, Profile>;
  jwtIssuers: ReadonlyArray<CompiledJwtIssuer>;
  alb?: CompiledAlbOidc;
  anonymous?: Identity;
}

export interface CompiledRules {
  source: Rules;
  backend: Backend;
  upstreamTimeoutMs: number;
  assumeRoleArn?: string;
  rewrites: ReadonlyArray<CompiledRewrite>;
  auth: CompiledAuth;
  clientsById: ReadonlyMap<string, Profile>;
  policies: ReadonlyMap<string, CompiledPolicy>;
}

// Paths the MLflow server (and its UI) owns; the gateway's own endpoints must stay clear of them.
const MLFLOW_PATH_PREFIXES = ['/api/', '/ajax-api/', '/static-files/', '/graphql', '/get-artifact', '/model-versions/', '/health', '/version', '/v1/', '/auth'];

export function compileRules(rules: Rules, problems: ProblemList, now: Date = new Date()): CompiledRules | undefined {
  const backend = compileBackend(rules, problems);
  const rewrites = rules.rewrites.map((rule, i) => compileRewrite(rule, ['rewrites', i], problems));
  const policies = compilePolicies(rules.policies, problems);
  checkEndpoints(rules, problems);

  const usedPolicies = new Set<string>();
  const resolve = (names: string[], path: KeyPath): CompiledPolicy[] =>
    names.flatMap((name, i) => {
      const policy = policies.get(name);
      if (!policy) {
        problems.error([...path, i], `unknown policy "${name}"; defined: ${[...policies.keys()].join(', ') || 'none'}`);
        return [];
      }
      usedPolicies.add(name);
      for (const origin of policy.operations.values()) usedPolicies.add(origin.policy);
      for (const grant of policy.grants) usedPolicies.add(grant.policy);
      return [policy];
    });
  const profile = (id: string, spec: { policies: string[]; assumeRoleArn?: string | undefined; rateLimit?: RateLimitSpec | undefined }, at: KeyPath): Profile => {
    if (spec.assumeRoleArn !== undefined && !ROLE_ARN.test(spec.assumeRoleArn)) {
      problems.error([...at, 'assumeRoleArn'], 'not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)');
    }
    return {
      id,
      policies: resolve(spec.policies, [...at, 'policies']),
      ...(spec.assumeRoleArn ? { assumeRoleArn: spec.assumeRoleArn } : {}),
      ...(spec.rateLimit ? { rateLimit: compileRateLimit(spec.rateLimit) } : {}),
    };
  };

  const apiKeys = new Map<string, StoredApiKey>();
  const passwords = new Map<string, StoredPassword>();
  const subjects = new Map<string, Profile>();
  const clientsById = new Map<string, Profile>();
  rules.clients.forEach((client, i) => {
    const at: KeyPath = ['clients', i];
    const clientProfile = profile(client.id, client, at);
    if (clientsById.has(client.id)) problems.error([...at, 'id'], `duplicate client id "${client.id}"`);
    clientsById.set(client.id, clientProfile);
    const keyIdentity = withMethod(clientProfile, 'api-key');
    for (const { hash, expires, at: keyAt } of apiKeySpecs(client, at)) {
      const normalized = hash.trim().toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(normalized)) {
        problems.error(keyAt, 'must be the 64-hex-digit SHA-256 of the API key (run `hash-key`), never the key itself');
        continue;
      }
      const other = apiKeys.get(normalized);
      if (other) problems.error(keyAt, `the same key hash is already used by client "${other.identity.id}"`);
      let expiresAtMs: number | undefined;
      if (expires !== undefined) {
        expiresAtMs = parseExpiry(expires);
        if (Number.isNaN(expiresAtMs)) problems.error([...keyAt, 'expires'], 'not an ISO date or date-time (2027-06-30, 2027-06-30T12:00:00Z)');
        else if (expiresAtMs <= now.getTime()) problems.warning([...keyAt, 'expires'], `this key of client "${client.id}" expired on ${expires}; it is refused`);
      }
      apiKeys.set(normalized, { identity: keyIdentity, ...(expiresAtMs !== undefined && !Number.isNaN(expiresAtMs) ? { expiresAtMs } : {}) });
    }
    if (client.passwordHash !== undefined) {
      const parsed = parsePasswordHash(client.passwordHash);
      if (!parsed.ok) problems.error([...at, 'passwordHash'], parsed.problem);
      else passwords.set(client.id, { identity: withMethod(clientProfile, 'basic'), hash: parsed.value });
    }
    (client.subjects ?? []).forEach((subject, j) => {
      const other = subjects.get(subject);
      if (other) problems.error([...at, 'subjects', j], `subject "${subject}" already acts as client "${other.id}"`);
      subjects.set(subject, clientProfile);
    });
  });

  const groups = new Map<string, Profile>();
  for (const [name, group] of Object.entries(rules.groups)) groups.set(name, profile(name, group, ['groups', name]));

  const anonymous: Identity | undefined = rules.anonymous
    ? withMethod(profile('anonymous', rules.anonymous, ['anonymous']), 'anonymous')
    : undefined;

  for (const name of policies.keys()) {
    if (!usedPolicies.has(name)) problems.warning(['policies', name], `policy "${name}" is not used by any client, group or anonymous access`);
  }

  const jwtIssuers = rules.auth.jwt.map((issuer, i) => compileJwtIssuer(issuer, ['auth', 'jwt', i], problems));
  const alb = rules.auth.alb ? compileAlb(rules.auth.alb, problems) : undefined;
  const realm = rules.auth.realm.replace(/["\\]/g, '');
  const challenge = [...(passwords.size ? [`Basic realm="${realm}", charset="UTF-8"`] : []), `Bearer realm="${realm}"`].join(', ');

  if (!backend) return undefined;
  return {
    source: rules,
    backend,
    upstreamTimeoutMs: Math.round(rules.backend.timeoutSeconds * 1000),
    ...(rules.backend.assumeRoleArn ? { assumeRoleArn: rules.backend.assumeRoleArn } : {}),
    rewrites,
    auth: {
      challenge,
      apiKeys,
      passwords,
      subjects,
      groups,
      jwtIssuers,
      ...(alb ? { alb } : {}),
      ...(anonymous ? { anonymous } : {}),
    },
    clientsById,
    policies,
  };
}

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\/-]{1,512}$/;
const ALB_ARN = /^arn:aws[a-z-]*:elasticloadbalancing:([a-z0-9-]+):\d{12}:loadbalancer\/app\/[A-Za-z0-9-]+\/[0-9a-f]+$/;

/** Both spellings of a client's keys (apiKeys with expiry, apiKeySha256 without), with where each was written. */
function apiKeySpecs(client: ClientSpec, at: KeyPath): Array<{ hash: string; expires?: string; at: KeyPath }> {
  const keys: Array<{ hash: string; expires?: string; at: KeyPath }> = [];
  (client.apiKeys ?? []).forEach((key, j) => keys.push({ hash: key.sha256, ...(key.expires ? { expires: key.expires } : {}), at: [...at, 'apiKeys', j, 'sha256'] }));
  const short = client.apiKeySha256;
  if (Array.isArray(short)) short.forEach((hash, j) => keys.push({ hash, at: [...at, 'apiKeySha256', j] }));
  else if (short !== undefined) keys.push({ hash: short, at: [...at, 'apiKeySha256'] });
  return keys;
}

/** An ISO date means "valid through that day (UTC)"; a date-time is exact. NaN when unreadable. */
export function parseExpiry(text: string): number {
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return Date.parse(`${text}T00:00:00Z`) + 86_400_000;
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text)) return NaN;
  return Date.parse(text);
}

function compileRateLimit(spec: RateLimitSpec): RateLimit {
  return { requestsPerSecond: spec.requestsPerSecond, burst: spec.burst ?? Math.max(1, Math.ceil(spec.requestsPerSecond)) };
}

function compileJwtIssuer(spec: JwtIssuerSpec, at: KeyPath, problems: ProblemList): CompiledJwtIssuer {
  const issuerUrl = parseHttpUrl(spec.issuer);
  if (!issuerUrl && !spec.jwksUrl) problems.error([...at, 'issuer'], 'not an https URL, so its JWKS cannot be discovered; set jwksUrl');
  if (spec.jwksUrl !== undefined && !parseHttpUrl(spec.jwksUrl)) problems.error([...at, 'jwksUrl'], 'not an http(s) URL');
  return {
    issuer: spec.issuer,
    ...(spec.jwksUrl ? { jwksUrl: spec.jwksUrl } : {}),
    audiences: spec.audiences,
    algorithms: spec.algorithms,
    clockSkewSeconds: spec.clockSkewSeconds,
    subjectClaim: spec.subjectClaim,
    groupsClaim: spec.groupsClaim,
    jwksCooldownMs: spec.jwksCooldownSeconds * 1000,
  };
}

function compileAlb(spec: AlbOidcSpec, problems: ProblemList): CompiledAlbOidc | undefined {
  const match = ALB_ARN.exec(spec.albArn);
  if (!match) {
    problems.error(['auth', 'alb', 'albArn'], 'not an Application Load Balancer ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID)');
    return undefined;
  }
  const keyEndpoint = spec.keyEndpoint ?? `https://public-keys.auth.elb.${match[1]}.amazonaws.com`;
  if (!parseHttpUrl(keyEndpoint)) problems.error(['auth', 'alb', 'keyEndpoint'], 'not an http(s) URL');
  return {
    albArn: spec.albArn,
    keyEndpoint: keyEndpoint.replace(/\/+$/, ''),
    clockSkewSeconds: spec.clockSkewSeconds,
    subjectClaim: spec.subjectClaim,
    groupsClaim: spec.groupsClaim,
  };
}

function parseHttpUrl(text: string): URL | undefined {
  try {
    const url = new URL(text);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
}

function compileBackend(rules: Rules, problems: ProblemList): Backend | undefined {
  const { arn, url, endpoint, hostHeader, headers, assumeRoleArn } = rules.backend;
  if (arn && url) {
    problems.error(['backend', 'url'], 'set either backend.arn (SageMaker) or backend.url (self-hosted MLflow), not both');
    return undefined;
  }
  if (arn) {
    if (hostHeader || headers) problems.error(['backend', hostHeader ? 'hostHeader' : 'headers'], 'only for a self-hosted backend (backend.url)');
    const built = sagemakerBackend(arn, endpoint);
    if (!built.ok) {
      problems.error(['backend', built.problem.startsWith('not a SageMaker') ? 'arn' : 'endpoint'], built.problem);
      return undefined;
    }
    return built.value;
  }
  if (url) {
    if (endpoint) problems.error(['backend', 'endpoint'], 'only for a SageMaker backend (backend.arn); use backend.url alone');
    if (assumeRoleArn) problems.error(['backend', 'assumeRoleArn'], 'only for a SageMaker backend (backend.arn)');
    const built = plainMlflowBackend(url, { ...(hostHeader ? { hostHeader } : {}), ...(headers ? { staticHeaders: headers } : {}) });
    if (!built.ok) {
      problems.error(['backend', 'url'], built.problem);
      return undefined;
    }
    return built.value;
  }
  problems.error(['backend'], 'needs backend.arn (a SageMaker MLflow ARN) or backend.url (a self-hosted MLflow server)');
  return undefined;
}

function compileRewrite(rule: RewriteRuleSpec, at: KeyPath, problems: ProblemList): CompiledRewrite {
  const kinds = (['stripPrefix', 'prefix', 'match'] as const).filter((k) => rule[k] !== undefined);
  const never: CompiledRewrite = { name: rule.name ?? 'invalid', apply: () => undefined };
  if (kinds.length !== 1) {
    problems.error(at, 'a rewrite needs exactly one of stripPrefix, prefix (+ replace) or match (+ replace)');
    return never;
  }
  if (rule.stripPrefix !== undefined) {
    const prefix = rule.stripPrefix.replace(/\/+$/, '');
    if (!prefix.startsWith('/') || prefix === '') {
      problems.error([...at, 'stripPrefix'], 'must start with "/" and not be "/" alone (e.g. /mlflow)');
      return never;
    }
    if (rule.replace !== undefined) problems.error([...at, 'replace'], 'stripPrefix takes no replace');
    return {
      name: rule.name ?? `strip ${prefix}`,
      apply: (path) => (path === prefix ? '/' : path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : undefined),
    };
  }
  if (rule.replace === undefined || !rule.replace.startsWith('/')) {
    problems.error([...at, 'replace'], 'needs a replacement path starting with "/"');
    return never;
  }
  const replace = rule.replace;
  if (rule.prefix !== undefined) {
    const prefix = rule.prefix;
    if (!prefix.startsWith('/')) problems.error([...at, 'prefix'], 'must start with "/"');
    return {
      name: rule.name ?? `${prefix} → ${replace}`,
      apply: (path) => (path.startsWith(prefix) ? replace + path.slice(prefix.length) : undefined),
    };
  }
  let regex: RegExp;
  try {
    regex = new RegExp(rule.match!);
  } catch (error) {
    problems.error([...at, 'match'], `not a valid regular expression: ${(error as Error).message}`);
    return never;
  }
  return {
    name: rule.name ?? `${rule.match} → ${replace}`,
    apply: (path) => (regex.test(path) ? path.replace(regex, replace) : undefined),
  };
}

function compilePolicies(specs: Record<string, PolicySpec>, problems: ProblemList): Map<string, CompiledPolicy> {
  const compiled = new Map<string, CompiledPolicy>();
  const visiting = new Set<string>();

  const build = (name: string): CompiledPolicy | undefined => {
    const done = compiled.get(name);
    if (done) return done;
    const spec = specs[name];
    if (!spec) return undefined;
    if (visiting.has(name)) {
      problems.error(['policies', name, 'include'], `include cycle through policy "${name}"`);
      return undefined;
    }
    visiting.add(name);
    const operations = new Map<string, GrantOrigin>();
    const own: GrantOrigin = { policy: name, ...(spec.conditions ? { conditions: compileConditions(spec.conditions) } : {}) };
    const grants: PathGrant[] = [];
    (spec.include ?? []).forEach((includedName, i) => {
      const included = specs[includedName] ? build(includedName) : undefined;
      if (!specs[includedName]) problems.error(['policies', name, 'include', i], `unknown policy "${includedName}"`);
      if (!included) return;
      for (const [op, origin] of included.operations) if (!operations.has(op)) operations.set(op, origin);
      grants.push(...included.grants);
    });
    (spec.operations ?? []).forEach((pattern, i) => {
      const names = expandOperationPattern(pattern);
      if (names.length === 0) {
        const hints = suggestOperations(pattern);
        problems.error(['policies', name, 'operations', i], `unknown MLflow operation "${pattern}"${hints.length ? `; did you mean ${hints.join(', ')}?` : ''}`);
      }
      for (const op of names) operations.set(op, own);
    });
    (spec.allow ?? []).forEach((rule, i) => {
      const methods = rule.methods.map((m) => m.toUpperCase());
      const methodSet: ReadonlySet<string> | '*' = methods.includes('*') ? '*' : new Set(methods);
      rule.paths.forEach((path, j) => {
        if (!path.startsWith('/')) {
          problems.error(['policies', name, 'allow', i, 'paths', j], 'a path pattern must start with "/"');
          return;
        }
        grants.push({ methods: methodSet, pattern: globToRegExp(path), source: `${methods.join(',')} ${path}`, ...own });
      });
    });
    visiting.delete(name);
    const policy: CompiledPolicy = { name, operations, grants };
    compiled.set(name, policy);
    return policy;
  };

  for (const name of Object.keys(specs)) build(name);
  return compiled;
}

function compileConditions(spec: NonNullable<PolicySpec['conditions']>): PolicyConditions {
  const prefixes = spec.experimentNamePrefix;
  return { experimentNamePrefixes: Array.isArray(prefixes) ? prefixes : [prefixes] };
}

/** `*` matches within one segment, `**` matches any rest of the path (including more segments). */
export function globToRegExp(glob: string): RegExp {
  const source = glob
    .split(/(\*\*|\*)/)
    .map((part) => (part === '**' ? '.*' : part === '*' ? '[^/]*' : escapeRegExp(part)))
    .join('');
  return new RegExp(`^${source}$`);
}

function checkEndpoints(rules: Rules, problems: ProblemList): void {
  for (const key of ['liveness', 'readiness'] as const) {
    const path = rules.endpoints[key];
    const clash = path === '/' || MLFLOW_PATH_PREFIXES.some((p) => path === p.replace(/\/$/, '') || path.startsWith(p));
    if (!path.startsWith('/') || clash) {
      problems.error(['endpoints', key], `"${path}" would shadow an MLflow path; use a path under /-/ (e.g. /-/${key === 'liveness' ? 'live' : 'ready'})`);
    }
  }
}
