// The gateway's own work per request without the network: the real app (createApp, the whole stage
// list, SageMaker signing, batched audit lines) called with app.handle(new Request(…)), fetch
// replaced by a stub that answers at once as the bench upstream would (bench/upstream.ts's JSON
// and headers). What is left is exactly the JavaScript the gateway runs per request and the
// objects it makes, so the figures are steadier than any loopback run on a shared machine: CPU
// time of one thread in a loop, the allocation the collector counts, and the native allocation
// (mimalloc's count of bytes requested: Bun's requests, responses, headers, hashers), which is
// freed only when the collector finalises the JS objects that hold it.
//
//   bun bench/in-process.ts        about 1 minute
//
// Each variant runs in its own child process, with Bun's collection timer off and the collector's
// log on (bench/lib.ts GC_ALLOCATION_ENV), so every collection says how much was allocated; the
// children of the variants take turns, round by round, and the figures are medians of the rounds.
// The request alone (making the Request and reading a stubbed Response) is measured too and
// subtracted, so what is shown is the gateway's share.
//
// Environment: BENCH_ROUNDS=5  BENCH_REQUESTS=40000 (per round)  BENCH_OUT=bench/results/in-process.json
//   BENCH_BASELINE_ROOT=/other/checkout   the same measured on another checkout (its src/), as a
//                                          second variant, for paired before/after figures
//   BENCH_VARIANTS=name=/checkout,…        any number of checkouts, in this order, before this one:
//                                          e.g. a commit and its parent per cut, all in one run
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { spawn } from 'bun';
import { chunksOf, envNumber, f, gatewayRules, gcLog, GATEWAY_RUNTIME_ENV, GC_ALLOCATION_ENV, log, median, ROOT, runMain, SCENARIOS, type ScenarioName } from './lib.ts';

const CFG = {
  rounds: envNumber('BENCH_ROUNDS', 5),
  requests: envNumber('BENCH_REQUESTS', 40_000),
  out: resolve(ROOT, process.env.BENCH_OUT ?? 'bench/results/in-process.json'),
  baselineRoot: process.env.BENCH_BASELINE_ROOT ? resolve(process.env.BENCH_BASELINE_ROOT) : null,
  variants: (process.env.BENCH_VARIANTS ?? '').split(',').filter(Boolean).map((entry) => {
    const at = entry.indexOf('=');
    if (at < 1) throw new Error(`BENCH_VARIANTS: "${entry}" is not name=/checkout`);
    return [entry.slice(0, at), resolve(entry.slice(at + 1))] as [string, string];
  }),
};
const API_KEY = 'bench-in-process-key-0123456789abcdef';

// ───────────────────────────── the child: one checkout's app, measured ─────────────────────────────
async function child(root: string, scenario: ScenarioName, requests: number): Promise<void> {
  const { loadRulesText } = await import(join(root, 'src/rules/load.ts'));
  const appModule = await import(join(root, (await Bun.file(join(root, 'src/app.ts')).exists()) ? 'src/app.ts' : 'src/server.ts'));
  const { createAuditLog } = await import(join(root, 'src/observability/audit.ts'));
  const { inFlightAudits } = await import(join(root, 'src/pipeline/in-flight.ts'));
  const loaded = loadRulesText(gatewayRules('http://127.0.0.1:9', API_KEY), 'rules.yaml', {});
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const credentials = { accessKeyId: 'AKIABENCHEXAMPLE0001', secretAccessKey: 'benchSecretKeyExample0000000000000000000' };
  const cache = { get: async () => credentials, cached: () => credentials, expiration: () => undefined, refreshes: () => 0 };
  // As serve builds it (main.ts): the audit log (its batches dropped instead of written), the
  // in-flight audits, a request counter.
  let started = 0;
  const app = appModule.createApp({ rules: () => loaded.rules, credentials: cache, audit: createAuditLog(() => {}), inFlight: inFlightAudits(), onRequest: () => void started++ });
  // The bench upstream's answer (bench/upstream.ts), made afresh per call as fetch would.
  const answer = new TextEncoder().encode(
    JSON.stringify({ experiment: { experiment_id: '1', name: 'bench-experiment', artifact_location: 's3://bench-bucket/mlflow/1', lifecycle_stage: 'active', last_update_time: 1700000000000, creation_time: 1700000000000, tags: [{ key: 'mlflow.note.content', value: 'benchmark' }] } }),
  );
  const answerHeaders = { 'content-type': 'application/json', 'content-length': String(answer.byteLength), date: 'Mon, 07 Dec 2026 16:37:55 GMT' };
  const stub = () => Promise.resolve(new Response(answer, { headers: answerHeaders }));
  (globalThis as { fetch: unknown }).fetch = stub;
  const sc = SCENARIOS[scenario];
  const url = `http://127.0.0.1:8080${sc.path}`;
  const headers = { ...sc.headers, authorization: `Bearer ${API_KEY}`, 'user-agent': 'bench', host: '127.0.0.1:8080', ...(sc.body ? { 'content-length': String(sc.body.length) } : {}) };
  const request = () => new Request(url, { method: sc.method, headers, body: sc.body });
  const through = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const response = await app.handle(request());
      if (response.status !== 200) throw new Error(`${response.status}: ${await response.text()}`);
      await response.arrayBuffer();
    }
  };
  const alone = async (n: number) => {
    for (let i = 0; i < n; i++) {
      request();
      await (await stub()).arrayBuffer();
    }
  };
  const cpu = () => {
    const usage = process.cpuUsage();
    return usage.user + usage.system;
  };
  await through(Math.min(20_000, requests));
  await alone(Math.min(20_000, requests));
  // Native allocation (Bun's objects: requests, responses, headers, hashers) from mimalloc's own
  // count of bytes requested so far; absent on other runtimes.
  const { heapStats } = await import('bun:jsc');
  const nativeBytes = () => (heapStats() as { mimalloc?: { malloc_requested?: number } }).mimalloc?.malloc_requested ?? NaN;
  const measure = async (name: string, run: (n: number) => Promise<void>) => {
    process.stderr.write(`mark start ${name} ;\n`);
    const native = nativeBytes();
    const start = cpu();
    await run(requests);
    const us = (cpu() - start) / requests;
    process.stdout.write(`native ${name} ${(nativeBytes() - native) / requests}\n`);
    process.stderr.write(`mark end ${name} ${us} ;\n`);
  };
  await measure('alone', alone);
  await measure('gateway', through);
}

// ───────────────────────────── the parent ─────────────────────────────
interface Sample {
  variant: string;
  scenario: ScenarioName;
  round: number;
  cpuUs: number;
  allocKb: number;
  allocPmKb: number;
  /** Native (mimalloc) bytes allocated per request, KB: what the collector frees only when it finalises their JS objects. */
  nativeKb: number;
}

/** Runs one child and reads its marks and its collector's lines between them (again, should a mark be lost). */
async function runChild(root: string, scenario: ScenarioName, attempt = 1): Promise<{ cpuUs: number; allocKb: number; allocPmKb: number; nativeKb: number }> {
  const proc = spawn([process.execPath, import.meta.path, '--child', root, scenario, String(CFG.requests)], {
    cwd: ROOT,
    env: { ...process.env, ...GATEWAY_RUNTIME_ENV, ...GC_ALLOCATION_ENV },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const nativeOut = new Response(proc.stdout).text();
  const gc = gcLog();
  const marks = new Map<string, { start?: ReturnType<typeof gc.totals>; end?: ReturnType<typeof gc.totals>; us?: number }>();
  const dec = new TextDecoder();
  let partial = '';
  let tail = '';
  for await (const chunk of chunksOf(proc.stderr)) {
    const text = dec.decode(chunk, { stream: true });
    tail = (tail + text).slice(-4000);
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      gc.onLine(line);
      // The collector's log shares stderr and may break into a line: a mark is only taken whole.
      const m = /mark (start|end) (\w+)(?: ([\d.]+))? ;/.exec(line);
      if (!m) continue;
      const entry = marks.get(m[2]!) ?? {};
      if (m[1] === 'start') entry.start = gc.totals();
      else {
        entry.end = gc.totals();
        entry.us = Number(m[3]);
      }
      marks.set(m[2]!, entry);
    }
  }
  if ((await proc.exited) !== 0) throw new Error(`in-process child (${root}, ${scenario}) failed:\n${tail}`);
  if (!['alone', 'gateway'].every((name) => marks.get(name)?.start && marks.get(name)?.end)) {
    if (attempt >= 3) throw new Error(`in-process child (${root}, ${scenario}): its marks were lost in the collector's log three times`);
    return runChild(root, scenario, attempt + 1);
  }
  const alloc = (name: string) => {
    const m = marks.get(name)!;
    const bytes = m.end!.allocatedBytes - m.start!.allocatedBytes;
    const cycles = m.end!.allocationTriggered - m.start!.allocationTriggered;
    return { kb: bytes / 1024 / CFG.requests, pm: (cycles ? bytes / cycles : 8 << 20) / 1024 / CFG.requests };
  };
  const gateway = alloc('gateway');
  const alone = alloc('alone');
  const native = Object.fromEntries([...(await nativeOut).matchAll(/^native (\w+) ([\d.eE+-]+|NaN)$/gm)].map((m) => [m[1]!, Number(m[2])]));
  return { cpuUs: marks.get('gateway')!.us! - marks.get('alone')!.us!, allocKb: gateway.kb - alone.kb, allocPmKb: gateway.pm, nativeKb: ((native.gateway ?? NaN) - (native.alone ?? NaN)) / 1024 };
}

async function main(): Promise<void> {
  const variants: Array<[string, string]> = [['this checkout', ROOT]];
  if (CFG.baselineRoot) variants.unshift(['baseline', CFG.baselineRoot]);
  variants.unshift(...CFG.variants);
  const samples: Sample[] = [];
  for (let round = 1; round <= CFG.rounds; round++) {
    for (const scenario of Object.keys(SCENARIOS) as ScenarioName[]) {
      for (const [variant, root] of variants) {
        const r = await runChild(root, scenario);
        samples.push({ variant, scenario, round, ...r });
        log(`r${round} ${SCENARIOS[scenario].label.padEnd(21)} ${variant.padEnd(14)} ${f(r.cpuUs, 2).padStart(6)} µs CPU/req  ${f(r.allocKb, 2).padStart(6)} KB/req (± ${f(r.allocPmKb, 2)})  native ${f(r.nativeKb, 2)} KB/req`);
      }
    }
  }
  const rows: string[][] = [['request', 'variant', 'CPU µs/req (min–max)', 'JS heap allocated KB/req', 'native allocated KB/req']];
  for (const scenario of Object.keys(SCENARIOS) as ScenarioName[]) {
    for (const [variant] of variants) {
      const xs = samples.filter((s) => s.scenario === scenario && s.variant === variant);
      const cpu = xs.map((s) => s.cpuUs);
      rows.push([SCENARIOS[scenario].label, variant, `${f(median(cpu), 2)} (${f(Math.min(...cpu), 2)}–${f(Math.max(...cpu), 2)})`, `${f(median(xs.map((s) => s.allocKb)), 2)} ± ${f(median(xs.map((s) => s.allocPmKb)), 2)}`, f(median(xs.map((s) => s.nativeKb)), 2)]);
    }
  }
  const markdown = [`| ${rows[0]!.join(' | ')} |`, `|${rows[0]!.map(() => '---').join('|')}|`, ...rows.slice(1).map((r) => `| ${r.join(' | ')} |`)].join('\n');
  console.log(`\nThe gateway's work per request in-process (fetch stubbed), ${CFG.requests} requests × ${CFG.rounds} rounds, bun ${Bun.version}:\n\n${markdown}`);
  mkdirSync(dirname(CFG.out), { recursive: true });
  writeFileSync(CFG.out, JSON.stringify({ config: CFG, samples }, null, 2) + '\n');
}

if (process.argv[2] === '--child') {
  child(process.argv[3]!, process.argv[4] as ScenarioName, Number(process.argv[5])).then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
} else if (import.meta.main) runMain(main);
