// The single-file artifacts (scripts/build.sh, `npm run build`), built once per test run so the
// tests exercise what ships rather than a stale dist/.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO, startProcess, type Started } from './processes.ts';

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
  // test/run.sh builds them once before its parallel shards (PROXY_TEST_PREBUILT), so that no
  // process rebuilds the executable another is running.
  if (!built && process.env.PROXY_TEST_PREBUILT === '1' && existsSync(EXECUTABLE) && existsSync(BUNDLE)) built = true;
  if (!built) {
    const run = spawnSync('bash', [join(REPO, 'scripts/build.sh')], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
    if (run.status !== 0 || !existsSync(EXECUTABLE) || !existsSync(BUNDLE)) throw new Error(`npm run build failed:\n${run.stdout}\n${run.stderr}`);
    built = true;
  }
  return { executable: EXECUTABLE, bundle: BUNDLE };
}

export type BuiltRuntime = 'the compiled executable' | 'the bundle under Deno';
export const BUILT_RUNTIMES: BuiltRuntime[] = ['the compiled executable', 'the bundle under Deno'];

/**
 * Starts `serve --rules FILE` from a single-file artifact and waits for its listening line. Under
 * Deno with the README's permissions: environment (rules expansion, AWS SDK), network, and reading
 * the rules file's directory; nothing else.
 */
export function startBuiltGateway(runtime: BuiltRuntime, rulesFile: string, env: Record<string, string | undefined>, cwd?: string): Promise<Started> {
  const { executable, bundle } = buildArtifacts();
  const [command, prefix] =
    runtime === 'the compiled executable'
      ? [executable, []]
      : [denoBinary(), ['run', '--allow-env', '--allow-net', `--allow-read=${dirname(rulesFile)}`, '--no-prompt', bundle]];
  return startProcess(command, [...prefix, 'serve', '--rules', rulesFile], {
    name: runtime,
    env,
    ...(cwd ? { cwd } : {}),
    ready: (output) => {
      const match = /"event":"listening".*?"port":(\d+)/.exec(output);
      return match ? Number(match[1]) : undefined;
    },
  });
}
