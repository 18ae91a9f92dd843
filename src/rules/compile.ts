// Turns schema-valid rules into the matchers the pipeline runs: the backend (from the ARN or URL),
// rewrite functions, flattened policies, and (compile-auth.ts) the identity directory. Every
// semantic problem is reported with its key path (the caller adds file:line:col); nothing here
// throws on bad input.
import type { PolicySpec, RewriteRuleSpec, Rules } from './schema.ts';
import type { Profile } from '../auth/identity.ts';
import { compileAuth } from './compile-auth.ts';
import type { CompiledAuth } from '../auth/directory.ts';
import type { KeyPath, ProblemList } from './problems.ts';
import { sagemakerBackend } from '../backends/sagemaker.ts';
import { plainMlflowBackend } from '../backends/mlflow.ts';
import type { Backend } from '../backends/backend.ts';
import { neverForwarded } from '../pipeline/headers.ts';
import type { CompiledPolicy, GrantOrigin, PathGrant } from '../auth/policy.ts';
import { compileScope, prefixScope, type PolicyScope } from '../scopes/policy-scope.ts';
import { patternProblem } from '../scopes/name-patterns.ts';
import { checkScopes } from './scope-checks.ts';
import type { CompiledRewrite } from '../pipeline/rewrite.ts';
import { escapeRegExp, expandOperationPattern, suggestOperations } from './operations.ts';
import { closest } from './schema-problems.ts';
import type { RiskInput } from './risks.ts';
import { ROLE_ARN, ROLE_ARN_PROBLEM } from './compile-auth.ts';

// What an MLflow client or browser sends (RFC 9110 section 9 and PATCH, RFC 5789); CONNECT and TRACE never reach MLflow.
const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
import { compileArtifacts } from './compile-artifacts.ts';
import type { ArtifactSettings } from '../artifacts/config.ts';
import type { UiSettings } from '../ui/entry.ts';
import { checkLimitStore } from '../limits/store-settings.ts';

export type { Backend } from '../backends/backend.ts';
export type { CompiledAuth } from '../auth/directory.ts';
export type { CompiledPolicy } from '../auth/policy.ts';

export interface CompiledRules {
  source: Rules;
  backend: Backend;
  upstreamTimeoutMs: number;
  assumeRoleArn?: string;
  rewrites: ReadonlyArray<CompiledRewrite>;
  auth: CompiledAuth;
  clientsById: ReadonlyMap<string, Profile>;
  policies: ReadonlyMap<string, CompiledPolicy>;
  /** The artifact API served from S3 (SageMaker backends with an `artifacts` section). */
  artifacts?: ArtifactSettings;
  /** The browser entry to SageMaker's MLflow UI (SageMaker backends with a `ui` section). */
  ui?: UiSettings;
}

// Paths the MLflow server (and its UI) owns; the gateway's own endpoints must stay clear of them.
const MLFLOW_PATH_PREFIXES = ['/api/', '/ajax-api/', '/static-files/', '/graphql', '/get-artifact', '/model-versions/', '/health', '/version', '/v1/', '/auth'];

export function compileRules(rules: Rules, problems: ProblemList, now: Date = new Date()): CompiledRules | undefined {
  return compileRuleParts(rules, problems, now).rules;
}

/**
 * The compiled rules (undefined when the backend is refused), and what the risk checks read, which
 * exists either way: `check` reports the risks of a file whose ARN is wrong in the same pass.
 */
export function compileRuleParts(rules: Rules, problems: ProblemList, now: Date = new Date()): { rules: CompiledRules | undefined; parts: RiskInput } {
  const backend = compileBackend(rules, problems);
  const rewrites = rules.rewrites.map((rule, i) => compileRewrite(rule, ['rewrites', i], problems));
  const policies = compilePolicies(rules.policies, problems);
  checkEndpoints(rules, problems);
  checkLimitStore(rules.limits.store, problems);
  if (rules.readiness.checkBackendStatus && backend && backend.kind !== 'sagemaker') {
    problems.error(['readiness', 'checkBackendStatus'], 'only for a SageMaker backend (backend.arn): it asks SageMaker whether the server runs; use checkUpstream for a self-hosted MLflow');
  }
  const artifacts = compileArtifacts(rules.artifacts, backend, problems);
  const ui = compileUi(rules, backend, problems);
  checkScopes(rules.policies, policies, backend, ui !== undefined, problems);

  const { auth, clientsById } = compileAuth(rules, policies, problems, now);

  const parts: RiskInput = { source: rules, auth, policies };
  if (!backend) return { rules: undefined, parts };
  return { parts, rules: {
    source: rules,
    backend,
    upstreamTimeoutMs: Math.round(rules.backend.timeoutSeconds * 1000),
    ...(rules.backend.assumeRoleArn ? { assumeRoleArn: rules.backend.assumeRoleArn } : {}),
    rewrites,
    auth,
    clientsById,
    policies,
    ...(artifacts ? { artifacts } : {}),
    ...(ui ? { ui } : {}),
  } };
}

function compileUi(rules: Rules, backend: Backend | undefined, problems: ProblemList): UiSettings | undefined {
  const spec = rules.ui;
  if (!spec || !backend) return undefined;
  if (backend.kind !== 'sagemaker') {
    problems.error(['ui'], 'only for a SageMaker backend (backend.arn); a self-hosted MLflow\'s UI is served through the gateway\'s normal paths (README, "Browser UI")');
    return undefined;
  }
  const clash = Object.values(rules.endpoints).includes(spec.path) || MLFLOW_PATH_PREFIXES.some((p) => spec.path === p.replace(/\/$/, '') || spec.path.startsWith(p));
  if (clash) problems.error(['ui', 'path'], `"${spec.path}" would shadow an MLflow path or a gateway endpoint; use e.g. /ui`);
  return { path: spec.path, presignedUrlExpiresSeconds: spec.presignedUrlExpiresSeconds, sessionExpiresSeconds: spec.sessionExpiresSeconds };
}

function compileBackend(rules: Rules, problems: ProblemList): Backend | undefined {
  const { arn, url, endpoint, hostHeader, headers, assumeRoleArn, forwardHeaders } = rules.backend;
  (forwardHeaders ?? []).forEach((name, i) => {
    const why = neverForwarded(name);
    if (why) problems.error(['backend', 'forwardHeaders', i], `${name} cannot be forwarded from a client: ${why}`);
  });
  if (arn && url) {
    problems.error(['backend', 'url'], 'set either backend.arn (SageMaker) or backend.url (self-hosted MLflow), not both');
    return undefined;
  }
  if (arn) {
    if (hostHeader || headers) problems.error(['backend', hostHeader ? 'hostHeader' : 'headers'], 'only for a self-hosted backend (backend.url)');
    if (assumeRoleArn && !ROLE_ARN.test(assumeRoleArn)) problems.error(['backend', 'assumeRoleArn'], ROLE_ARN_PROBLEM);
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
      mountPrefix: prefix,
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
    const scope = compilePolicyScope(name, spec, problems);
    const own: GrantOrigin = { policy: name, ...(scope ? { scopes: [scope] } : {}) };
    // An included grant keeps its own scopes and gains this policy's: an include never widens what
    // it includes, and a scope (or condition) written beside an include holds the included
    // operations too (issue 19: it used to leave them unconditioned).
    const narrowed = new Map<GrantOrigin, GrantOrigin>();
    const within = (origin: GrantOrigin): GrantOrigin => {
      if (!scope) return origin;
      let result = narrowed.get(origin);
      if (!result) narrowed.set(origin, (result = { ...origin, scopes: [...(origin.scopes ?? []), scope] }));
      return result;
    };
    const grants: PathGrant[] = [];
    (spec.include ?? []).forEach((includedName, i) => {
      const included = specs[includedName] ? build(includedName) : undefined;
      if (!specs[includedName]) problems.error(['policies', name, 'include', i], `unknown policy "${includedName}"`);
      if (!included) return;
      for (const [op, origin] of included.operations) if (!operations.has(op)) operations.set(op, within(origin));
      for (const grant of included.grants) grants.push(scope ? { ...grant, scopes: within(grant).scopes! } : grant);
    });
    const exclusions: string[] = [];
    (spec.operations ?? []).forEach((entry, i) => {
      // `!Name` (or `!Pattern*`) removes what this policy would otherwise grant, included or own:
      // `[Get*, '!GetOrCreateUserQueue']` is every Get but the one that creates something.
      const excluded = entry.startsWith('!');
      const pattern = excluded ? entry.slice(1) : entry;
      const names = expandOperationPattern(pattern);
      if (excluded && names.length) {
        exclusions.push(...names);
        return;
      }
      if (names.length === 0) {
        const hints = suggestOperations(pattern);
        problems.error(['policies', name, 'operations', i], `unknown MLflow operation "${pattern}"${hints.length ? `; did you mean ${hints.join(', ')}?` : ''}`);
      }
      for (const op of names) operations.set(op, own);
    });
    for (const op of exclusions) operations.delete(op);
    (spec.allow ?? []).forEach((rule, i) => {
      const methods = rule.methods.map((m) => m.toUpperCase());
      methods.forEach((method, k) => {
        if (method === '*' || HTTP_METHODS.includes(method)) return;
        const hint = closest(method, HTTP_METHODS);
        problems.error(['policies', name, 'allow', i, 'methods', k], `unknown HTTP method "${rule.methods[k]}"${hint ? `; did you mean ${hint}?` : ''} (one of ${HTTP_METHODS.join(', ')}, or *)`);
      });
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

/**
 * The policy's scope: `scope`, or the old `conditions.experimentNamePrefix` read as one (check says
 * how to write it as a scope). Pattern problems are reported at their key path.
 */
function compilePolicyScope(name: string, spec: PolicySpec, problems: ProblemList): PolicyScope | undefined {
  if (spec.scope) {
    for (const [key, patterns] of Object.entries(spec.scope)) {
      (patterns ?? []).forEach((pattern, i) => {
        const problem = patternProblem(pattern);
        if (problem) problems.error(['policies', name, 'scope', key, i], problem);
      });
    }
    if (spec.conditions) problems.error(['policies', name, 'conditions'], 'a policy has either scope or conditions: write the prefixes into scope.experiments (e.g. "team-a/**")');
    return compileScope(name, spec.scope);
  }
  if (!spec.conditions) return undefined;
  const value = spec.conditions.experimentNamePrefix;
  const prefixes = Array.isArray(value) ? value : [value];
  const written = prefixes.map((prefix) => JSON.stringify(`${prefix}**`)).join(', ');
  problems.warning(
    ['policies', name, 'conditions'],
    `conditions.experimentNamePrefix is read as a scope, which also holds calls that name experiments, runs, traces... by id; write it as ` +
      `scope: {experiments: [${written}], registeredModels: ["**"], prompts: ["**"]} (and narrow the registry there if the policy should)`,
  );
  return prefixScope(name, prefixes);
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
