// The single-file artifacts (scripts/build.sh, `npm run build`), built once per test run so the
// tests exercise what ships rather than a stale dist/.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './processes.ts';

export const EXECUTABLE = join(REPO, 'dist', 'sagemaker-mlflow-proxy');
export const BUNDLE = join(REPO, 'dist', 'sagemaker-mlflow-proxy.js');
// The Deno binary itself, not node_modules/.bin/deno: when npm skipped the package's postinstall,
// that is a Node launcher (bin.cjs) which runs Deno with spawnSync and passes on no signals, so
// SIGHUP and SIGTERM would hit the launcher instead of the gateway.
const DENO_BINARY = join(REPO, 'node_modules', 'deno', 'deno');

export function denoBinary(): string {
  if (!existsSync(DENO_BINARY)) {
    // The launcher puts the binary in place on first use (deno's install_api.cjs).
    spawnSync(join(REPO, 'node_modules', '.bin', 'deno'), ['--version'], { encoding: 'utf8', timeout: 60_000 });
    if (!existsSync(DENO_BINARY)) throw new Error(`${DENO_BINARY} is missing: reinstall with npm ci`);
  }
  return DENO_BINARY;
}

let built = false;

export function buildArtifacts(): { executable: string; bundle: string } {
  if (!built) {
    const run = spawnSync('bash', [join(REPO, 'scripts/build.sh')], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
    if (run.status !== 0 || !existsSync(EXECUTABLE) || !existsSync(BUNDLE)) throw new Error(`npm run build failed:\n${run.stdout}\n${run.stderr}`);
    built = true;
  }
  return { executable: EXECUTABLE, bundle: BUNDLE };
}
