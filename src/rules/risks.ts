// Warnings `check` (and serve, at start) gives about rules that are valid but risky: what a
// security team reviewing rules.yaml would want pointed out. They never refuse the rules.
import type { Rules } from './schema.ts';
import type { CompiledPolicy, CompiledRules } from './compile.ts';
import type { ProblemList } from './problems.ts';
import { isReadOnlyOperation, OPERATION_NAMES, operationsCoveredBy, sensitiveClassOf, sensitiveLeftOutBy } from './operations.ts';
import { MIN_SCRYPT_LN } from '../auth/password.ts';

/** What the risk checks read: everything but the backend, so a file whose backend is refused still gets them. */
export type RiskInput = Pick<CompiledRules, 'source' | 'auth' | 'policies'>;

export function checkRisks(rules: RiskInput, problems: ProblemList): void {
  const source = rules.source;
  anonymousWrites(rules, problems);
  wildcardPolicies(source, rules.policies, problems);
  source.clients.forEach((client, i) => {
    (client.apiKeys ?? []).forEach((key, j) => {
      if (!key.expires) problems.warning(['clients', i, 'apiKeys', j], `an API key of client "${client.id}" never expires; add expires: YYYY-MM-DD`);
    });
    if (client.apiKeySha256 !== undefined) {
      problems.warning(['clients', i, 'apiKeySha256'], `API key(s) of client "${client.id}" never expire; use apiKeys: [{sha256, expires}]`);
    }
    const password = rules.auth.passwords.get(client.id);
    if (password && password.hash.params.ln < MIN_SCRYPT_LN) {
      problems.warning(['clients', i, 'passwordHash'], `weak password hash (scrypt ln=${password.hash.params.ln}); make a new one with hash-password`);
    }
    const tokens = source.auth.jwt.length > 0 || source.auth.alb !== undefined;
    const certificates = client.certificates?.length && source.auth.albMtls !== undefined;
    if (!client.apiKeys && client.apiKeySha256 === undefined && !client.passwordHash && !(client.subjects?.length && tokens) && !certificates) {
      problems.warning(['clients', i], `client "${client.id}" has no way to sign in (no API key, password, token subject with auth.jwt / auth.alb, or certificate with auth.albMtls)`);
    }
  });
  if (source.auth.failedSignInLimit && !source.listen.trustForwardedFor) {
    problems.warning(['auth', 'failedSignInLimit'], 'counted per client address: behind a load balancer, set listen.trustForwardedFor or all clients share one address (and one limit)');
  }
  if (Object.keys(source.groups).length > 0 && source.auth.jwt.length === 0 && !source.auth.alb) {
    problems.warning(['groups'], 'groups come from JWT or ALB-OIDC tokens, but neither auth.jwt nor auth.alb is configured');
  }
}

function anonymousWrites(rules: RiskInput, problems: ProblemList): void {
  const anonymous = rules.auth.anonymous;
  if (!anonymous) return;
  const writes = new Set<string>();
  for (const policy of anonymous.policies) {
    for (const operation of policy.operations.keys()) if (!isReadOnlyOperation(operation)) writes.add(operation);
    for (const grant of policy.grants) {
      if (grant.methods === '*' || [...grant.methods].some((m) => m !== 'GET' && m !== 'HEAD')) writes.add(`${grant.source}`);
    }
  }
  if (!rules.source.listen.allowedHosts) {
    problems.warning(['listen'], 'anonymous access without listen.allowedHosts: a web page could use it through a visitor\'s browser (DNS rebinding); list the gateway\'s host names');
  }
  if (writes.size > 0) {
    const list = [...writes];
    problems.warning(['anonymous', 'policies'], `anyone without credentials can write: ${list.slice(0, 5).join(', ')}${list.length > 5 ? ` and ${list.length - 5} more` : ''}`);
  }
}

function wildcardPolicies(source: Rules, policies: ReadonlyMap<string, CompiledPolicy>, problems: ProblemList): void {
  for (const [name, spec] of Object.entries(source.policies)) {
    (spec.operations ?? []).forEach((pattern, i) => {
      if (pattern === '*') problems.warning(['policies', name, 'operations', i], `policy "${name}" grants every MLflow operation ('*'): wildcard admin; list the operations its holders need (e.g. the log-runs policy's)`);
    });
    // Wildcards stop short of sensitive operations (operations.ts); say which, so nobody believes
    // '*' granted the AI gateway's secrets, or wonders why it did not.
    const named = new Set(spec.operations ?? []);
    const leftOut = [...new Set((spec.operations ?? []).flatMap(sensitiveLeftOutBy))].filter((op) => !named.has(op));
    if (leftOut.length) {
      problems.warning(['policies', name, 'operations'], `policy "${name}": wildcards do not grant ${leftOut.length} sensitive operation(s), only their exact names do: ${byClass(leftOut)}; to grant one, name it (e.g. operations: [${leftOut[0]}])`);
    }
    const policy = policies.get(name);
    policy?.grants.forEach((grant) => {
      if (grant.policy !== name) return;
      const covered = operationsCoveredBy(grant.methods, grant.pattern);
      if (covered.length === OPERATION_NAMES.length) {
        problems.warning(['policies', name, 'allow'], `policy "${name}" path rule ${grant.source} covers every MLflow operation: wildcard admin; narrow the methods or paths`);
      }
      // Path rules match what they match, sensitive or not: point it out where a wildcard in the
      // path reaches them. A path written out in full names its route as plainly as an operation
      // name would, so it is taken as meant.
      const sensitive = grant.source.includes('*') ? covered.filter((op) => sensitiveClassOf(op)) : [];
      if (sensitive.length) problems.warning(['policies', name, 'allow'], `policy "${name}" path rule ${grant.source} covers sensitive operation(s): ${byClass(sensitive)}; narrow the path, or write out the paths it should reach`);
    });
  }
}

/** `secrets: CreateGatewaySecret, ...; webhooks: ...`, at most a few names per class. */
function byClass(operations: ReadonlyArray<string>): string {
  const classes = new Map<string, string[]>();
  for (const op of operations) {
    const label = sensitiveClassOf(op) ?? 'other';
    classes.set(label, [...(classes.get(label) ?? []), op]);
  }
  return [...classes].map(([label, ops]) => `${label} (${ops.length}: ${ops.slice(0, 3).join(', ')}${ops.length > 3 ? ', ...' : ''})`).join('; ');
}
