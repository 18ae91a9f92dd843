// Starting and stopping the real processes the integration tests need (MLflow, stand-ins, the
// gateway itself), each on an ephemeral loopback port, each killed when the test file ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll } from 'bun:test';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dir, '..', '..');
export const BUN = process.execPath;

export interface Started {
  child: ChildProcess;
  port: number;
  output: () => string;
  stop: () => Promise<void>;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `smp-${prefix}-`));
}

/**
 * A tempDir that is removed when the calling test file's tests end: for staging roots, which hold
 * the ~110 MB executable once or twice. Call it at the top level of a test file.
 */
export function scratchTempDirs(): (prefix: string) => string {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return (prefix) => {
    const dir = tempDir(prefix);
    dirs.push(dir);
    return dir;
  };
}

/** A port that was free a moment ago (for servers, like mlflow, that cannot take port 0). */
export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => done(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Spawns a process and waits until `ready` finds its port in the output (stdout + stderr).
 * Fails with the process's output if it exits or does not become ready in time.
 */
export async function startProcess(
  command: string,
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; ready: (output: string) => number | undefined; timeoutMs?: number; name: string },
): Promise<Started> {
  // Its own process group, so stop() also ends grandchildren (mlflow server runs gunicorn or
  // uvicorn workers that would otherwise outlive it).
  const child = spawn(command, args, { cwd: options.cwd ?? REPO, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        child.kill(signal);
      }
    };
    signalGroup('SIGTERM');
    const timer = setTimeout(() => signalGroup('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    // Workers may take a moment longer than their parent; make sure none is left.
    await Bun.sleep(100);
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {}
  };
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    const port = options.ready(output);
    if (port !== undefined) return { child, port, output: () => output, stop };
    if (child.exitCode !== null) throw new Error(`${options.name} exited with ${child.exitCode}:\n${output}`);
    await Bun.sleep(50);
  }
  await stop();
  throw new Error(`${options.name} did not become ready in time:\n${output}`);
}

/** Waits until an HTTP URL answers (any status). */
export async function waitForHttp(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      await fetch(url);
      return;
    } catch {
      await Bun.sleep(200);
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/** Polls until the condition holds (e.g. a log line appeared); fails after timeoutMs. */
export async function waitFor(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await Bun.sleep(25);
  }
}

/** Environment with every AWS credential source removed, so only what a test sets is used. */
export function cleanAwsEnv(extra: Record<string, string>): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('AWS_') || key.startsWith('MLFLOW_') || key === 'SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT') continue;
    env[key] = value;
  }
  return {
    ...env,
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  };
}

/** Starts the gateway CLI (`bun src/main.ts serve`) and waits for its "listening" line. */
export function startGateway(rulesFile: string, env: Record<string, string | undefined>, extraArgs: string[] = []): Promise<Started> {
  return startProcess(BUN, [join(REPO, 'src/main.ts'), 'serve', '--rules', rulesFile, ...extraArgs], {
    env,
    name: 'gateway',
    timeoutMs: 30_000,
    ready: (output) => {
      const match = /"event":"listening".*?"port":(\d+)/.exec(output);
      return match ? Number(match[1]) : undefined;
    },
  });
}

/** Audit lines (JSON objects with msg "request") from a gateway's output. */
export function auditLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes('"msg":"request"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
