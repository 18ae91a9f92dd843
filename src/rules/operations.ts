// MLflow operations by name: the proto routes (generated table) plus the server's few non-proto
// routes. Security teams name operations the way IAM does (`sagemaker-mlflow:LogMetric`), and the
// gateway maps a (method, upstream path) back to that name. Paths are the canonical upstream paths
// (after rewrites), so `/ajax-api/...` is seen as `/api/...` once the shipped rewrite has run.
import { PROTO_ROUTES } from './mlflow-operations.ts';

type Route = readonly [operation: string, method: string, template: string];

// Non-proto routes of mlflow/server/__init__.py and handlers.py that clients and the UI call.
const SERVER_ROUTES: ReadonlyArray<Route> = [
  ['GetServerVersion', 'GET', '/version'], // the MLflow client probes it before OTLP uploads
  ['GetServerHealth', 'GET', '/health'],
  ['GetArtifact', 'GET', '/get-artifact'], // the UI's artifact viewer
  ['GetModelVersionArtifact', 'GET', '/model-versions/get-artifact'],
  // What the 3.x UI asks first on every load (server_info_api.py: store type, workspaces, features);
  // registered outside the protos, at both /api/3.0 and /ajax-api/3.0.
  ['GetServerInfo', 'GET', '/api/3.0/mlflow/server-info'],
  // The browser UI itself, named as IAM names it (sagemaker-mlflow:AccessUI): the index page and its
  // static files on a self-hosted backend. For SageMaker backends it is the gateway's own `ui.path`
  // entry (src/ui/), which mints a presigned URL instead.
  ['AccessUI', 'GET', '/'],
  ['AccessUI', 'GET', '/static-files/{+}'],
];

// MLflow's artifact proxy API. Its proto names (DownloadArtifact, UploadArtifact, DeleteArtifact,
// Create/Complete/AbortMultipartUpload, and ListArtifacts, which it shared with the run-artifact
// listing) are replaced by three that say what a security team decides: who may read, write and
// delete artifact bytes. For SageMaker backends the gateway serves these itself (src/artifacts).
const ARTIFACT_API = '/api/2.0/mlflow-artifacts/';
const ARTIFACT_ROUTES: ReadonlyArray<Route> = [
  ['ReadArtifacts', 'GET', '/api/2.0/mlflow-artifacts/artifacts'], // list (?path=)
  ['ReadArtifacts', 'GET', '/api/2.0/mlflow-artifacts/artifacts/{+}'],
  ['ReadArtifacts', 'GET', '/api/2.0/mlflow-artifacts/presigned/{+}'], // 3.x presigned download (opt-in)
  ['WriteArtifacts', 'PUT', '/api/2.0/mlflow-artifacts/artifacts/{+}'],
  ['WriteArtifacts', 'POST', '/api/2.0/mlflow-artifacts/mpu/create/{+}'],
  ['WriteArtifacts', 'POST', '/api/2.0/mlflow-artifacts/mpu/complete/{+}'],
  ['WriteArtifacts', 'POST', '/api/2.0/mlflow-artifacts/mpu/abort/{+}'],
  ['DeleteArtifacts', 'DELETE', '/api/2.0/mlflow-artifacts/artifacts/{+}'],
];

const ROUTES: ReadonlyArray<Route> = [
  ...PROTO_ROUTES.filter(([, , path]) => !path.startsWith(ARTIFACT_API)),
  ...SERVER_ROUTES,
  ...ARTIFACT_ROUTES,
];

export const OPERATION_NAMES: ReadonlyArray<string> = [...new Set(ROUTES.map((r) => r[0]))].sort();

interface TemplateRoute {
  operation: string;
  method: string;
  pattern: RegExp;
}

const exact = new Map<string, string>();
const templated: TemplateRoute[] = [];
for (const [operation, method, template] of ROUTES) {
  if (!template.includes('{')) {
    exact.set(`${method} ${template}`, operation);
  } else {
    const source = template
      .split(/(\{\+?\})/)
      .map((part) => (part === '{}' ? '[^/]+' : part === '{+}' ? '.+' : escapeRegExp(part)))
      .join('');
    templated.push({ operation, method, pattern: new RegExp(`^${source}$`) });
  }
}
// A literal route wins over a template that would also match (`traces/search` vs `traces/{id}`).

const AJAX_API = '/ajax-api/';

/** The MLflow operation a request is, or undefined for a path that is no known operation. */
export function operationFor(method: string, path: string): string | undefined {
  // MLflow serves its API under /ajax-api/ too (the UI's prefix), and some 3.x UI routes only there
  // (experiments/search-datasets in 3.17): a self-hosted backend gets the UI's paths unrewritten and
  // they are still the same operations. SageMaker backends rewrite them to /api/ (rules.yaml).
  if (path.startsWith(AJAX_API)) return operationFor(method, `/api/${path.slice(AJAX_API.length)}`);
  // Werkzeug adds HEAD to every rule that allows GET (werkzeug.routing.Rule), so MLflow's server
  // answers HEAD on each GET route as that route without the body: the same operation.
  if (method === 'HEAD') return operationFor('GET', path);
  const direct = exact.get(`${method} ${path}`);
  if (direct) return direct;
  for (const route of templated) {
    if (route.method === method && route.pattern.test(path)) return route.operation;
  }
  return undefined;
}

/** The routes an operation name covers (for explain and docs). */
export function routesOf(operation: string): Array<{ method: string; path: string }> {
  return ROUTES.filter((r) => r[0] === operation).map(([, method, path]) => ({ method, path }));
}

/** Expands `Get*`-style names against the table; returns [] for a name or pattern that matches nothing. */
export function expandOperationPattern(pattern: string): string[] {
  if (!pattern.includes('*')) return OPERATION_NAMES.includes(pattern) ? [pattern] : [];
  const regex = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`);
  return OPERATION_NAMES.filter((name) => regex.test(name));
}

// The artifact API's proto names, replaced by ARTIFACT_ROUTES' three: named in rule errors.
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

function editDistance(a: string, b: string): number {
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

/** Operations that only read (by their MLflow names); everything else can change something. */
export function isReadOnlyOperation(operation: string): boolean {
  // AccessUI serves the UI's page and static files; what the UI then does is authorized call by call.
  return /^(Get|Search|List|BatchGet|Calculate|Download)/.test(operation) || operation === 'AccessUI';
}

/** Whether a path grant (method set + pattern) covers an operation's route(s), for IAM and risk checks. */
export function operationsCoveredBy(methods: ReadonlySet<string> | '*', pattern: RegExp): string[] {
  const covered = new Set<string>();
  for (const [operation, method, template] of ROUTES) {
    if (methods !== '*' && !methods.has(method)) continue;
    // A template's placeholders stand for any segment(s): test one concrete path of that shape.
    const sample = template.replace(/\{\+\}/g, 'x/y').replace(/\{\}/g, 'x');
    if (pattern.test(sample)) covered.add(operation);
  }
  return [...covered];
}
