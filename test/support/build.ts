// The single-file artifacts (scripts/build.sh, `npm run build`), built once per test run so the
// tests exercise what ships rather than a stale dist/.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './processes.ts';

export const EXECUTABLE = join(REPO, 'dist', 'sagemaker-mlflow-proxy');
export const BUNDLE = join(REPO, 'dist', 'sagemaker-mlflow-proxy.js');
export const DENO = join(REPO, 'node_modules', '.bin', 'deno');

let built = false;

export function buildArtifacts(): { executable: string; bundle: string } {
  if (!built) {
    const run = spawnSync('bash', [join(REPO, 'scripts/build.sh')], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
    if (run.status !== 0 || !existsSync(EXECUTABLE) || !existsSync(BUNDLE)) throw new Error(`npm run build failed:\n${run.stdout}\n${run.stderr}`);
    built = true;
  }
  return { executable: EXECUTABLE, bundle: BUNDLE };
}
