// Rolling restart behind a load balancer: how many requests fail while every gateway of a pool is
// replaced one by one, with the shipped drain (readiness fails at once, the listener keeps serving
// for drainSeconds, answers carry Connection: close) against no drain at all (drainSeconds 0: the
// listener closes as soon as SIGTERM arrives), in one invocation.
//
//   bun bench/drain.ts            # about half a minute
//
// The load balancer is a small stand-in in this process, shaped like an ALB target group: it health-
// checks each target's /-/ready every HEALTH_MS, takes a target out after UNHEALTHY failed checks
// in a row, puts a new one in after its first good check, and sends each request to the next
// healthy target in turn over kept-alive connections (fetch's pool). CLIENTS closed loops send
// GET experiments/get through it. A rolling restart: for each of the POOL gateways, start its
// replacement, wait until the balancer routes to it, SIGTERM the old one, wait until it has exited.
// Counted: requests answered 200, requests failed (no answer or another status), answers that
// carried Connection: close. Then, without a balancer, kept-alive clients straight at one gateway
// through its SIGTERM: requests refused (nothing sent) against requests dropped after being sent.
// Only 127.0.0.1; every wait is bounded.
import { spawn, type Subprocess } from 'bun';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashApiKey } from '../src/auth/api-key.ts';

const POOL = 2;
const CLIENTS = Number(process.env.CLIENTS ?? 8);
const HEALTH_MS = 200;
const UNHEALTHY = 2;
const KEY = 'drain-bench-key-0123456789abcdef';
const REPO = join(import.meta.dir, '..');
const LIMIT_MS = 60_000;

const upstream = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => Response.json({ experiment: { experiment_id: '1', name: 'drain' } }) });

interface Target {
  proc: Subprocess<'ignore', 'pipe', 'inherit'>;
  port: number;
  healthy: boolean;
  failedChecks: number;
}

async function startGateway(drainSeconds: number): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'smp-drain-'));
  const file = join(dir, 'rules.yaml');
  writeFileSync(file, `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {url: "http://127.0.0.1:${upstream.port}"}
clients: [{id: drain, apiKeySha256: "${hashApiKey(KEY)}", policies: [read]}]
policies: {read: {operations: [GetExperiment]}}
shutdown: {drainSeconds: ${drainSeconds}, finishSeconds: 2}
logging: {requests: false}
`);
  const proc = spawn([process.execPath, join(REPO, 'src/main.ts'), 'serve', '--rules', file], { cwd: dir, stdin: 'ignore', stdout: 'pipe', stderr: 'inherit', env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' } });
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    const match = /"event":"listening".*?"port":(\d+)/.exec(text);
    if (match) {
      // Keep reading (and discarding) its output so it never blocks on a full pipe.
      (async () => {
        while (!(await reader.read()).done);
      })();
      return { proc, port: Number(match[1]), healthy: false, failedChecks: 0 };
    }
  }
  throw new Error(`gateway did not start:\n${text}`);
}

async function rollingRestart(drainSeconds: number) {
  const targets: Target[] = [];
  for (let i = 0; i < POOL; i++) targets.push(await startGateway(drainSeconds));
  let stopped = false;
  // The balancer's health checks.
  const checks = (async () => {
    while (!stopped) {
      await Promise.all(
        targets.map(async (target) => {
          let ok = false;
          try {
            ok = (await fetch(`http://127.0.0.1:${target.port}/-/ready`, { signal: AbortSignal.timeout(HEALTH_MS * 2) })).status === 200;
          } catch {}
          target.failedChecks = ok ? 0 : target.failedChecks + 1;
          if (ok) target.healthy = true;
          else if (target.failedChecks >= UNHEALTHY) target.healthy = false;
        }),
      );
      await Bun.sleep(HEALTH_MS);
    }
  })();
  const waitUntil = async (condition: () => boolean) => {
    const deadline = Date.now() + LIMIT_MS;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await Bun.sleep(10);
    }
  };
  await waitUntil(() => targets.every((t) => t.healthy));

  let next = 0;
  const counts = { answered: 0, failed: 0, closing: 0 };
  const loops = Array.from({ length: CLIENTS }, async () => {
    while (!stopped) {
      const healthy = targets.filter((t) => t.healthy);
      const target = healthy[next++ % Math.max(1, healthy.length)];
      if (!target) {
        await Bun.sleep(1);
        continue;
      }
      try {
        const response = await fetch(`http://127.0.0.1:${target.port}/api/2.0/mlflow/experiments/get?experiment_id=1`, { headers: { authorization: `Bearer ${KEY}` }, signal: AbortSignal.timeout(5000) });
        await response.arrayBuffer();
        if (response.status === 200) counts.answered++;
        else counts.failed++;
        if (response.headers.get('connection') === 'close') counts.closing++;
      } catch {
        counts.failed++;
      }
    }
  });

  const started = performance.now();
  for (let i = 0; i < POOL; i++) {
    const old = targets[0]!;
    const replacement = await startGateway(drainSeconds);
    targets.push(replacement);
    await waitUntil(() => replacement.healthy);
    old.proc.kill('SIGTERM');
    await Promise.race([old.proc.exited, Bun.sleep(LIMIT_MS)]);
    targets.splice(targets.indexOf(old), 1);
  }
  const seconds = (performance.now() - started) / 1000;
  stopped = true;
  await Promise.all([checks, ...loops]);
  for (const target of targets) {
    target.proc.kill('SIGINT');
    await target.proc.exited;
  }
  return { drainSeconds, seconds, ...counts };
}

/**
 * No balancer: CLIENTS kept-alive loops on one gateway through its SIGTERM, until it has exited (as
 * the probe did). A refused connection is a failure nothing was sent on (safe to retry); a
 * request sent on a kept connection that then closes without an answer may or may not have run.
 */
async function directThroughStop() {
  const target = await startGateway(1);
  let stopped = false;
  const counts = { answered: 0, refused: 0, dropped: 0, closing: 0, droppedCodes: {} as Record<string, number> };
  const loops = Array.from({ length: CLIENTS }, async () => {
    while (!stopped) {
      try {
        const response = await fetch(`http://127.0.0.1:${target.port}/api/2.0/mlflow/experiments/get?experiment_id=1`, { headers: { authorization: `Bearer ${KEY}` }, signal: AbortSignal.timeout(5000) });
        await response.arrayBuffer();
        if (response.status === 200) counts.answered++;
        if (response.headers.get('connection') === 'close') counts.closing++;
      } catch (error) {
        if ((error as { code?: string }).code === 'ECONNREFUSED') counts.refused++;
        else {
          counts.dropped++;
          const code = (error as { code?: string }).code ?? String(error).slice(0, 40);
          counts.droppedCodes[code] = (counts.droppedCodes[code] ?? 0) + 1;
        }
        await Bun.sleep(5); // a refused client retries, not in a hot loop
      }
    }
  });
  await Bun.sleep(500);
  target.proc.kill('SIGTERM');
  await Promise.race([target.proc.exited, Bun.sleep(LIMIT_MS)]);
  await Bun.sleep(200); // a few requests after the exit: refused
  stopped = true;
  await Promise.all(loops);
  return counts;
}

const drained = await rollingRestart(2);
const undrained = await rollingRestart(0);
const direct = await directThroughStop();
upstream.stop(true);

console.log(`rolling restart of ${POOL} gateways behind a health-checking balancer (every ${HEALTH_MS} ms, out after ${UNHEALTHY}), ${CLIENTS} clients, bun ${Bun.version}, ${new Date().toISOString()}`);
console.log('drainSeconds  seconds  answered  failed  answers with Connection: close');
for (const r of [drained, undrained]) {
  console.log(`${String(r.drainSeconds).padStart(12)}  ${r.seconds.toFixed(1).padStart(7)}  ${String(r.answered).padStart(8)}  ${String(r.failed).padStart(6)}  ${String(r.closing).padStart(6)}`);
}
console.log(`no balancer, ${CLIENTS} kept-alive clients through one gateway's SIGTERM (drainSeconds 1): answered ${direct.answered}, of them with Connection: close ${direct.closing}; refused (nothing sent) ${direct.refused}; dropped without an answer after being sent ${direct.dropped} ${JSON.stringify(direct.droppedCodes)}`);
console.log(JSON.stringify({ drained, undrained, direct }));
