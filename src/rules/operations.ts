// MLflow operations by name: every route the MLflow server registers (the generated table,
// mlflow-operations.ts, from the pinned MLflow versions), plus the few the UI calls that only an
// auth-enabled server registers. Security teams name operations the way IAM does
// (`sagemaker-mlflow:LogMetric`), and the gateway maps a (method, upstream path) back to that name.
// Paths are the canonical upstream paths (after rewrites); `/ajax-api/...` and `/api/...` are the
// same operation, because MLflow serves every API route under both prefixes.
import { MLFLOW_ROUTES, type Access, type SensitiveClass } from './mlflow-operations.ts';

export type { SensitiveClass } from './mlflow-operations.ts';

interface Route {
  operation: string;
  method: string;
  template: string;
  access: Access;
  sensitive?: SensitiveClass;
}

// The UI asks who is signed in on every page (mlflow/server/js: `ajax-api/2.0/mlflow/users/current`,
// `ajax-api/3.0/mlflow/users/current/permissions`). Only the basic-auth app registers these
// (mlflow/server/auth/routes.py GET_CURRENT_USER, LIST_CURRENT_USER_PERMISSIONS); a default server
// answers 404. Named here so the UI's routine calls are operations a policy can grant, not denials.
const UI_PROBES: ReadonlyArray<Route> = [
  { operation: 'GetCurrentUser', method: 'GET', template: '/api/2.0/mlflow/users/current', access: 'read' },
  { operation: 'ListCurrentUserPermissions', method: 'GET', template: '/api/3.0/mlflow/users/current/permissions', access: 'read' },
];

// GraphQL is one route that performs many operations: pipeline/graphql.ts decides it field by
// field, as the equivalent REST operations. It is in the table (so the drift check knows it) but no
// policy grants "GraphQL" itself.
const DECIDED_PER_FIELD = new Set(['GraphQL']);

const ROUTES: ReadonlyArray<Route> = [
  ...MLFLOW_ROUTES.map(([operation, method, template, , access, sensitive]) => ({ operation, method, template, access, ...(sensitive ? { sensitive } : {}) })),
  ...UI_PROBES,
];
const GRANTABLE = ROUTES.filter((r) => !DECIDED_PER_FIELD.has(r.operation));

export const OPERATION_NAMES: ReadonlyArray<string> = [...new Set(GRANTABLE.map((r) => r.operation))].sort();

const SENSITIVE = new Map<string, SensitiveClass>(GRANTABLE.flatMap((r) => (r.sensitive ? [[r.operation, r.sensitive] as const] : [])));
const WRITES = new Set(GRANTABLE.filter((r) => r.access === 'write').map((r) => r.operation));

/** The sensitive class of an operation (AI-gateway secrets and config, workspaces, webhooks, ...), if any. */
export function sensitiveClassOf(operation: string): SensitiveClass | undefined {
  return SENSITIVE.get(operation);
}

interface TemplateRoute {
  operation: string;
  method: string;
  pattern: RegExp;
  /** Literal characters of the template: more of them is a more specific route. */
  literal: number;
}

const AJAX_API = '/ajax-api/';
/**
 * `/ajax-api/X` and `/api/X` are one route to MLflow (handlers.py _get_paths registers both), so
 * they are one to the gateway: everything that tells routes apart (operations here, the artifact
 * API in artifacts/handler.ts) reads the path through this.
 */
export function canonicalApiPath(path: string): string {
  return path.startsWith(AJAX_API) ? `/api/${path.slice(AJAX_API.length)}` : path;
}

// Templates are tried by bucket: method + the path's first KEY_SEGMENTS segments, when a template
// has those literally (nearly all: `/api/3.0/mlflow/traces/{}`); the few that do not
// (`/gateway/{}/...`, `/static-files/{+}`) are tried for every path of their method. With ~130
// templates a scan of them all cost 2-3x more per request than the bucket does.
const KEY_SEGMENTS = 4;
const exact = new Map<string, string>();
const buckets = new Map<string, TemplateRoute[]>();
const unbucketed: TemplateRoute[] = [];
for (const { operation, method, template } of ROUTES) {
  const path = canonicalApiPath(template);
  if (!path.includes('{')) {
    exact.set(`${method} ${path}`, operation);
    continue;
  }
  const route = { operation, method, pattern: templateRegExp(path), literal: path.replace(/\{\+?\}/g, '').length };
  const key = bucketKey(method, path);
  if (key.includes('{')) unbucketed.push(route);
  else buckets.set(key, [...(buckets.get(key) ?? []), route]);
}
// A literal route wins over a template that would also match (`traces/search` vs `traces/{id}`).
// Among templates the more specific is tried first (`mcp-servers/{+}/versions/{+}` before
// `mcp-servers/{+}`, which would match the same path).
const bySpecificity = (a: TemplateRoute, b: TemplateRoute) => b.literal - a.literal;
for (const [key, routes] of buckets) buckets.set(key, [...routes, ...unbucketed.filter((r) => key.startsWith(`${r.method} `))].sort(bySpecificity));
const unbucketedByMethod = new Map<string, TemplateRoute[]>();
for (const route of [...unbucketed].sort(bySpecificity)) unbucketedByMethod.set(route.method, [...(unbucketedByMethod.get(route.method) ?? []), route]);

function bucketKey(method: string, path: string): string {
  return `${method} ${path.split('/', KEY_SEGMENTS + 1).join('/')}`;
}

function templateRegExp(template: string): RegExp {
  const source = template
    .split(/(\{\+?\})/)
    .map((part) => (part === '{}' ? '[^/]+' : part === '{+}' ? '.+' : escapeRegExp(part)))
    .join('');
  return new RegExp(`^${source}$`);
}

/** The route-table entry a request is, including GraphQL; undefined for a path MLflow does not serve. */
export function routeOperation(method: string, path: string): string | undefined {
  // Werkzeug adds HEAD to every rule that allows GET (werkzeug.routing.Rule), so MLflow's server
  // answers HEAD on each GET route as that route without the body: the same operation.
  if (method === 'HEAD') return routeOperation('GET', path);
  const key = canonicalApiPath(path);
  const direct = exact.get(`${method} ${key}`);
  if (direct) return direct;
  const candidates = buckets.get(bucketKey(method, key)) ?? unbucketedByMethod.get(method) ?? [];
  for (const route of candidates) {
    if (route.pattern.test(key)) return route.operation;
  }
  return undefined;
}

/** The MLflow operation a request is, or undefined for a path that is no known (grantable) operation. */
export function operationFor(method: string, path: string): string | undefined {
  const operation = routeOperation(method, path);
  return operation && !DECIDED_PER_FIELD.has(operation) ? operation : undefined;
}

// Each template's placeholders as capture groups, per operation: where a resource id sits in a path
// (scopes/request-values.ts reads `{ path: n }` places through it).
const PARAMS_BY_OPERATION = new Map<string, Array<{ method: string; pattern: RegExp }>>();
for (const { operation, method, template } of ROUTES) {
  const path = canonicalApiPath(template);
  if (!path.includes('{')) continue;
  const source = path.split(/(\{\+?\})/).map((part) => (part === '{}' ? '([^/]+)' : part === '{+}' ? '(.+)' : escapeRegExp(part))).join('');
  PARAMS_BY_OPERATION.set(operation, [...(PARAMS_BY_OPERATION.get(operation) ?? []), { method, pattern: new RegExp(`^${source}$`) }]);
}

/**
 * The raw (still percent-encoded) values of the placeholders of the operation's route that the
 * request matched, in template order; [] for a route without placeholders.
 */
export function pathParams(operation: string, method: string, path: string): string[] {
  const key = canonicalApiPath(path);
  const wanted = method === 'HEAD' ? 'GET' : method;
  for (const route of PARAMS_BY_OPERATION.get(operation) ?? []) {
    if (route.method !== wanted) continue;
    const match = route.pattern.exec(key);
    if (match) return match.slice(1);
  }
  return [];
}

/** The routes an operation name covers (for explain and docs). */
export function routesOf(operation: string): Array<{ method: string; path: string }> {
  return GRANTABLE.filter((r) => r.operation === operation).map(({ method, template }) => ({ method, path: template }));
}

/**
 * Expands a policy's operation name or `Get*`-style pattern against the table; [] when it matches
 * nothing. A pattern never reaches a sensitive operation: those are granted only by their exact
 * name, so `'*'` or `Get*` written before MLflow added AI-gateway secrets does not hand them out.
 */
export function expandOperationPattern(pattern: string): string[] {
  if (!pattern.includes('*')) return OPERATION_NAMES.includes(pattern) ? [pattern] : [];
  return matchingNames(pattern).filter((name) => !SENSITIVE.has(name));
}

/** The sensitive operations a pattern would match if it could (what `check` says it leaves out). */
export function sensitiveLeftOutBy(pattern: string): string[] {
  if (!pattern.includes('*')) return [];
  return matchingNames(pattern).filter((name) => SENSITIVE.has(name));
}

function matchingNames(pattern: string): string[] {
  const regex = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`);
  return OPERATION_NAMES.filter((name) => regex.test(name));
}

// The artifact API's proto names, replaced by the table's three (gen-operations.py NAMES): named
// in rule errors.
const RENAMED: Readonly<Record<string, string>> = {
  DownloadArtifact: 'ReadArtifacts',
  UploadArtifact: 'WriteArtifacts',
  CreateMultipartUpload: 'WriteArtifacts',
  CompleteMultipartUpload: 'WriteArtifacts',
  AbortMultipartUpload: 'WriteArtifacts',
  DeleteArtifact: 'DeleteArtifacts',
};

/** Closest known operation names, for "did you mean" in rule errors. */
export function suggestOperations(name: string): string[] {
  const renamed = RENAMED[name];
  if (renamed) return [renamed];
  const lower = name.toLowerCase();
  return OPERATION_NAMES.filter((op) => {
    const candidate = op.toLowerCase();
    return candidate.includes(lower) || lower.includes(candidate) || editDistance(candidate, lower) <= 2;
  }).slice(0, 3);
}

/** Levenshtein distance, for did-you-mean hints (operation names here, rules keys in schema-problems.ts). */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Operations that only read (the table's access column, from gen-operations.py classify()). */
export function isReadOnlyOperation(operation: string): boolean {
  // AccessUI serves the UI's page and static files; what the UI then does is authorized call by call.
  return OPERATION_NAMES.includes(operation) && !WRITES.has(operation);
}

/** Whether a path grant (method set + pattern) covers an operation's route(s), for IAM and risk checks. */
export function operationsCoveredBy(methods: ReadonlySet<string> | '*', pattern: RegExp): string[] {
  const covered = new Set<string>();
  for (const { operation, method, template } of GRANTABLE) {
    if (methods !== '*' && !methods.has(method)) continue;
    // A template's placeholders stand for any segment(s): test one concrete path of that shape.
    const sample = template.replace(/\{\+\}/g, 'x/y').replace(/\{\}/g, 'x');
    if (pattern.test(sample) || pattern.test(canonicalApiPath(sample))) covered.add(operation);
  }
  return [...covered];
}
