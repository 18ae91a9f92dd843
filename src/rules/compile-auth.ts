// The identity directory of the rules: who can sign in and how (API-key hashes with expiry,
// password hashes, token subjects, token issuers, the trusted ALB), what each client, group and the
// anonymous caller may do, and which policies nobody uses. Problems carry their key paths.
import type { AlbOidcSpec, ClientSpec, JwtIssuerSpec, RateLimitSpec, Rules } from './schema.ts';
import type { KeyPath, ProblemList } from './problems.ts';
import type { CompiledPolicy } from '../auth/policy.ts';
import type { CompiledAlbOidc, CompiledAuth, CompiledJwtIssuer, StoredApiKey, StoredPassword } from '../auth/directory.ts';
import { withMethod, type Identity, type Profile, type RateLimit } from '../auth/identity.ts';
import { parsePasswordHash } from '../auth/password.ts';
import { compileAlbMtls } from './compile-alb-mtls.ts';

export function compileAuth(
  rules: Rules,
  policies: ReadonlyMap<string, CompiledPolicy>,
  problems: ProblemList,
  now: Date,
): { auth: CompiledAuth; clientsById: Map<string, Profile> } {
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
      problems.error([...at, 'assumeRoleArn'], ROLE_ARN_PROBLEM);
    } else if (spec.assumeRoleArn !== undefined && rules.backend.url) {
      problems.error([...at, 'assumeRoleArn'], 'roles sign SageMaker calls; a self-hosted backend (backend.url) is not signed');
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
    for (const { hash, expires, at: keyAt, expiresAt } of apiKeySpecs(client, at)) {
      // The expiry first: a bad hash and a bad date in one key are two problems, both reported.
      let expiresAtMs: number | undefined;
      if (expires !== undefined) {
        expiresAtMs = parseExpiry(expires);
        if (Number.isNaN(expiresAtMs)) problems.error(expiresAt, 'not an ISO date or date-time (2027-06-30, 2027-06-30T12:00:00Z)');
        else if (expiresAtMs <= now.getTime()) problems.warning(expiresAt, `this key of client "${client.id}" expired on ${expires}; it is refused`);
      }
      const normalized = hash.trim().toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(normalized)) {
        problems.error(keyAt, 'must be the 64-hex-digit SHA-256 of the API key (run `hash-key`), never the key itself');
        continue;
      }
      const other = apiKeys.get(normalized);
      if (other) problems.error(keyAt, `the same key hash is already used by client "${other.identity.id}"`);
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

  // One warning however many: a file of example policies (the shipped rules.yaml) is one finding, with one fix.
  const unused = [...policies.keys()].filter((name) => !usedPolicies.has(name));
  const fix = 'name it in a client\'s, group\'s or anonymous\' policies, or remove it';
  if (unused.length === 1) problems.warning(['policies', unused[0]!], `policy "${unused[0]}" is not used by any client, group or anonymous access; ${fix}`);
  else if (unused.length > 1) problems.warning(['policies'], `${unused.length} policies are not used by any client, group or anonymous access: ${unused.join(', ')}; ${fix.replace(/\bit\b/g, 'them')}`);

  const jwtIssuers = rules.auth.jwt.map((issuer, i) => compileJwtIssuer(issuer, ['auth', 'jwt', i], problems));
  const alb = rules.auth.alb ? compileAlb(rules.auth.alb, problems) : undefined;
  const albMtls = compileAlbMtls(rules, clientsById, problems, now);
  if (rules.auth.jwtCookie !== undefined && jwtIssuers.length === 0) {
    problems.error(['auth', 'jwtCookie'], 'a JWT cookie needs the issuers whose tokens it carries (auth.jwt)');
  }
  const realm = rules.auth.realm.replace(/["\\]/g, '');
  const challenge = [...(passwords.size ? [`Basic realm="${realm}", charset="UTF-8"`] : []), `Bearer realm="${realm}"`].join(', ');

  return {
    auth: {
      challenge,
      apiKeys,
      passwords,
      subjects,
      groups,
      jwtIssuers,
      ...(alb ? { alb } : {}),
      ...(albMtls ? { albMtls } : {}),
      ...(anonymous ? { anonymous } : {}),
      ...(rules.auth.failedSignInLimit ? { failedSignInLimit: compileRateLimit(rules.auth.failedSignInLimit) } : {}),
      ...(rules.auth.jwtCookie ? { jwtCookie: rules.auth.jwtCookie } : {}),
    },
    clientsById,
  };
}

export const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\/-]{1,512}$/;
export const ROLE_ARN_PROBLEM = 'not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)';
const ALB_ARN = /^arn:aws[a-z-]*:elasticloadbalancing:([a-z0-9-]+):\d{12}:loadbalancer\/app\/[A-Za-z0-9-]+\/[0-9a-f]+$/;

/** Both spellings of a client's keys (apiKeys with expiry, apiKeySha256 without), with where each was written. */
/** Each API key with where its hash is (`at`) and where its expiry is (`expiresAt`, a sibling of the hash). */
function apiKeySpecs(client: ClientSpec, at: KeyPath): Array<{ hash: string; expires?: string; at: KeyPath; expiresAt: KeyPath }> {
  const keys: Array<{ hash: string; expires?: string; at: KeyPath; expiresAt: KeyPath }> = [];
  (client.apiKeys ?? []).forEach((key, j) =>
    keys.push({ hash: key.sha256, ...(key.expires ? { expires: key.expires } : {}), at: [...at, 'apiKeys', j, 'sha256'], expiresAt: [...at, 'apiKeys', j, 'expires'] }),
  );
  const short = client.apiKeySha256;
  if (Array.isArray(short)) short.forEach((hash, j) => keys.push({ hash, at: [...at, 'apiKeySha256', j], expiresAt: [...at, 'apiKeySha256', j] }));
  else if (short !== undefined) keys.push({ hash: short, at: [...at, 'apiKeySha256'], expiresAt: [...at, 'apiKeySha256'] });
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
