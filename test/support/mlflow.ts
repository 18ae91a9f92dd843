// The real MLflow: pinned versions in Python virtual environments made by scripts/setup-python.sh.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, REPO, startProcess, tempDir, type Started } from './processes.ts';

// Keep in step with scripts/setup-python.sh.
export const MLFLOW_VERSIONS = (process.env.MLFLOW_VERSIONS ?? '2.16.2 3.17.2').split(/\s+/).filter(Boolean);
const VENV_ROOT = process.env.PROXY_VENV_ROOT ?? join(REPO, '.cache', 'venvs');

export function venvPython(version: string): string {
  const python = join(VENV_ROOT, `mlflow-${version}`, 'bin', 'python');
  if (!existsSync(python)) throw new Error(`${python} is missing: run scripts/setup-python.sh (npm test does)`);
  return python;
}

export interface MlflowOptions {
  /** Like SageMaker's: `s3://bucket/prefix` with --no-serve-artifacts. Default: a local directory. */
  s3ArtifactRoot?: string;
  /** Extra environment for the server (e.g. MLFLOW_S3_ENDPOINT_URL and keys for an S3 stand-in). */
  env?: Record<string, string>;
}

/** A real `mlflow server` with a SQLite store in a temp dir (`dir`; the store is `dir/mlflow.db`). */
export async function startMlflow(version: string, options: MlflowOptions = {}): Promise<Started & { url: string; dir: string }> {
  const dir = tempDir(`mlflow-${version}`);
  const port = await freePort();
  const python = venvPython(version);
  const artifacts = options.s3ArtifactRoot
    ? ['--default-artifact-root', options.s3ArtifactRoot, '--no-serve-artifacts']
    : ['--default-artifact-root', `${dir}/artifacts`, '--artifacts-destination', `${dir}/mlartifacts`];
  const args = ['-m', 'mlflow', 'server', '--host', '127.0.0.1', '--port', String(port),
    '--backend-store-uri', `sqlite:///${dir}/mlflow.db`, ...artifacts, '--workers', '1'];
  const started = await startProcess(python, args, {
    name: `mlflow ${version}`,
    timeoutMs: 120_000,
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('MLFLOW_'))), ...options.env },
    ready: (output) => (/Listening at|Uvicorn running|Application startup complete|Booting worker/.test(output) ? port : undefined),
  });
  // The log line can come before the socket accepts; wait for /health.
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      if (health.ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`mlflow ${version} /health never answered:\n${started.output()}`);
    await Bun.sleep(250);
  }
  return { ...started, url: `http://127.0.0.1:${port}`, dir };
}

/** Environment of an MLflow user: a tracking URI and credentials (a token, or MLFLOW_* variables), and no AWS variables at all. */
export function mlflowUserEnv(uri: string, credentials: string | Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('AWS_') && !key.startsWith('MLFLOW_')) env[key] = value;
  }
  // A string is the token (MLFLOW_TRACKING_TOKEN); an object gives the MLFLOW_* variables themselves.
  const variables = typeof credentials === 'string' ? { MLFLOW_TRACKING_TOKEN: credentials } : credentials;
  return { ...env, MLFLOW_TRACKING_URI: uri, ...variables };
}
