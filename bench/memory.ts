// What the gateway's memory is made of, idle and under sustained load, beside the floor's
// (issue 21: RSS under c=128 within 64 MiB, the 1 GiB download within 80 MiB at ≥ 500 MiB/s).
//
//   bun bench/memory.ts                  about 2 minutes with the defaults
//   bun bench/memory.ts --write-readme   the same, then rewrites bench/README.md's memory section
//
// Each system alone (the floor; the gateway as it runs in production, GATEWAY_RUNTIME_ENV; the same
// with JavaScriptCore's default heap sizing; with BENCH_BASELINE_ENTRY another checkout's gateway),
// in front of the stand-in upstream: started, warmed up, then
//   idle      2 s after the warm-up: a probe (bench/memory-probe.ts: RSS, JS heap, mimalloc) and a
//             heap snapshot
//   load      c=128, GET then POST, BENCH_SECONDS each: RSS every 100 ms (median and peak, with the
//             kernel's VmHWM reset first)
//   after     at once when the load stops: probe and heap snapshot
//   settled   5 s later: probe
//   download  1 GiB (BENCH_BLOB_BYTES) streamed through it and discarded: MiB/s and peak RSS
// The heap snapshots are summarised (self size by object kind, before and after the load) and kept
// in BENCH_SNAPSHOT_DIR (default bench/results/snapshots/) for Chrome DevTools.
//
// Environment: BENCH_SECONDS=10  BENCH_BLOB_BYTES=1073741824  BENCH_SKIP=download,snapshots
//   BENCH_RAM_SIZES_MB=96,128   the gateway also with these heap sizings (BUN_JSC_forceRAMSize), beside production's
//   BENCH_BASELINE_ENTRY=/other/checkout/src/main.ts  BENCH_OUT=bench/results/memory.json
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  atCleanup, awsEnv, baseEnv, chunksOf, envList, envNumber, f, gatewayRules, GATEWAY_RUNTIME_ENV, LoadWorker, log, median, procCpuSeconds, procStatus, resetPeakRss, ROOT, runMain, SCENARIOS,
  startChild, type Child, type ScenarioName, writeReadmeSection
} from './lib.ts';

const CFG = {
  seconds: envNumber('BENCH_SECONDS', 10),
  blobBytes: envNumber('BENCH_BLOB_BYTES', 1024 ** 3),
  skip: new Set(envList('BENCH_SKIP', '')),
  ramSizesMb: envList('BENCH_RAM_SIZES_MB', '').map(Number).filter((mb) => mb > 0),
  gatewayEntry: resolve(ROOT, process.env.BENCH_GATEWAY_ENTRY ?? 'src/main.ts'),
  baselineEntry: process.env.BENCH_BASELINE_ENTRY ? resolve(process.env.BENCH_BASELINE_ENTRY) : null,
  snapshotDir: resolve(ROOT, process.env.BENCH_SNAPSHOT_DIR ?? 'bench/results/snapshots'),
  out: resolve(ROOT, process.env.BENCH_OUT ?? 'bench/results/memory.json'),
  writeReadme: process.argv.includes('--write-readme'),
};
const BUN = process.execPath;
const API_KEY = 'bench-' + randomBytes(24).toString('hex');
const AUTH = { authorization: `Bearer ${API_KEY}` };
const PROBE = ['--preload', join(import.meta.dir, 'memory-probe.ts')];

interface Probe {
  rssMb: number;
  heapMb: number;
  heapCapacityMb: number;
  externalMb: number;
  objects: number;
  mallocInUseMb: number | null;
  mallocCommittedMb: number | null;
  snapshot?: string;
  /** The same right after a full collection (the probe runs one). */
  afterFullGc: Omit<Probe, 'afterFullGc' | 'snapshot'>;
}

interface SystemResult {
  system: string;
  idle: Probe;
  load: { rssMedianMb: number; rssPeakMb: number; hwmMb: number; rps: Record<string, number>; cpuUsPerRequest: number };
  after: Probe;
  settled: Probe;
  download?: { mibPerSecond: number; peakRssMb: number; bytes: number };
  snapshotSummary?: Array<{ kind: string; beforeKb: number; afterKb: number; beforeCount: number; afterCount: number }>;
}

/** The probe's answer to SIGUSR2 (bench/memory-probe.ts), from the child's stderr. */
function prober(): { onLine: (line: string) => void; probe: (pid: number) => Promise<Probe> } {
  const waiting: Array<(p: Probe) => void> = [];
  return {
    onLine(line) {
      const at = line.indexOf('memory-probe {');
      if (at >= 0) waiting.shift()?.(JSON.parse(line.slice(at + 'memory-probe '.length)));
    },
    probe(pid) {
      return new Promise((resolveProbe, reject) => {
        const timer = setTimeout(() => reject(new Error(`no memory-probe answer from ${pid} within 60 s`)), 60_000);
        waiting.push((p) => {
          clearTimeout(timer);
          resolveProbe(p);
        });
        process.kill(pid, 'SIGUSR2');
      });
    },
  };
}

/** Self size and count by object kind (V8 snapshot node type and name), for the largest kinds. */
function summarise(file: string): Map<string, { bytes: number; count: number }> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[] };
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size')];
  const out = new Map<string, { bytes: number; count: number }>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!] ?? '?';
    const name = type === 'string' || type === 'concatenated string' || type === 'sliced string' ? '' : snap.strings[snap.nodes[i + nameAt]!] ?? '';
    const kind = `${type}${name ? ` ${name.slice(0, 40)}` : ''}`;
    const entry = out.get(kind) ?? { bytes: 0, count: 0 };
    entry.bytes += snap.nodes[i + sizeAt]!;
    entry.count++;
    out.set(kind, entry);
  }
  return out;
}

let worker: LoadWorker | null = null;

async function measureSystem(name: string, cmd: string[], upstream: Child, env: Record<string, string>, tmp: string, snapshots = false): Promise<SystemResult> {
  const p = prober();
  // Heap snapshots take memory of their own: only in a pass of their own (snapshotPass).
  if (!snapshots) delete env.BENCH_SNAPSHOT_DIR;
  const child = await startChild(name, cmd, { cwd: tmp, env, onStderrLine: p.onLine });
  const base = `http://127.0.0.1:${child.port}`;
  worker ??= new LoadWorker(Bun.which('node') ? 'node' : BUN);
  const run = (s: ScenarioName, connections: number, duration: number) => {
    const sc = SCENARIOS[s];
    return worker!.run({ url: base + sc.path, method: sc.method, headers: { ...sc.headers, ...AUTH }, body: sc.body, connections, duration });
  };
  for (const s of Object.keys(SCENARIOS) as ScenarioName[]) await run(s, 32, 2); // warm-up: the JIT, the pools
  await Bun.sleep(2000);
  const idle = await p.probe(child.pid);
  // Sustained load: RSS sampled every 100 ms while it runs; the kernel's peak reset first.
  resetPeakRss(child.pid);
  const samples: number[] = [];
  const sampler = setInterval(() => {
    const st = procStatus(child.pid);
    if (st) samples.push(st.rssKb / 1024);
  }, 100);
  const rps: Record<string, number> = {};
  const cpuBefore = procCpuSeconds(child.pid);
  let requests = 0;
  for (const s of Object.keys(SCENARIOS) as ScenarioName[]) {
    const result = await run(s, 128, CFG.seconds);
    rps[s] = result.rps;
    requests += result.total;
  }
  const cpuUsPerRequest = ((procCpuSeconds(child.pid) - cpuBefore) * 1e6) / requests;
  clearInterval(sampler);
  const hwmMb = (procStatus(child.pid)?.hwmKb ?? NaN) / 1024;
  const after = await p.probe(child.pid);
  await Bun.sleep(5000);
  const settled = await p.probe(child.pid);
  const result: SystemResult = { system: name, idle, load: { rssMedianMb: median(samples), rssPeakMb: Math.max(...samples), hwmMb, rps, cpuUsPerRequest }, after, settled };
  if (idle.snapshot && after.snapshot) {
    const [before, later] = [summarise(idle.snapshot), summarise(after.snapshot)];
    const kinds = [...new Set([...before.keys(), ...later.keys()])];
    result.snapshotSummary = kinds
      .map((kind) => ({ kind, beforeKb: (before.get(kind)?.bytes ?? 0) / 1024, afterKb: (later.get(kind)?.bytes ?? 0) / 1024, beforeCount: before.get(kind)?.count ?? 0, afterCount: later.get(kind)?.count ?? 0 }))
      .sort((a, b) => Math.max(b.beforeKb, b.afterKb) - Math.max(a.beforeKb, a.afterKb))
      .slice(0, 12);
  }
  if (!CFG.skip.has('download') && !snapshots) result.download = await download(base, child.pid);
  log(`${name}: idle ${f(idle.rssMb, 1)} MB, under c=128 median ${f(result.load.rssMedianMb, 1)} peak ${f(result.load.rssPeakMb, 1)} MB, after ${f(after.rssMb, 1)}, settled ${f(settled.rssMb, 1)}` +
    (result.download ? `; 1 GiB download ${f(result.download.mibPerSecond, 0)} MiB/s, peak ${f(result.download.peakRssMb, 1)} MB` : ''));
  child.proc.kill('SIGKILL');
  await child.proc.exited;
  return result;
}

/** The stand-in's blob through the system, read and discarded: throughput and peak RSS (sampled and VmHWM). */
async function download(base: string, pid: number): Promise<{ mibPerSecond: number; peakRssMb: number; bytes: number }> {
  resetPeakRss(pid);
  let peak = 0;
  const sampler = setInterval(() => {
    const st = procStatus(pid);
    if (st) peak = Math.max(peak, st.rssKb / 1024);
  }, 100);
  const started = performance.now();
  const response = await fetch(`${base}/bench/blob?bytes=${CFG.blobBytes}`, { headers: AUTH });
  let bytes = 0;
  for await (const chunk of chunksOf(response.body!)) bytes += chunk.byteLength;
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  if (bytes !== CFG.blobBytes) throw new Error(`download: ${bytes} of ${CFG.blobBytes} bytes arrived`);
  peak = Math.max(peak, (procStatus(pid)?.hwmKb ?? 0) / 1024);
  return { mibPerSecond: bytes / 1048576 / seconds, peakRssMb: peak, bytes };
}

export function report(results: SystemResult[], started: Date, load: string): string {
  const mdTable = (rs: string[][]) => [`| ${rs[0]!.join(' | ')} |`, `|${rs[0]!.map(() => '---').join('|')}|`, ...rs.slice(1).map((r) => `| ${r.join(' | ')} |`)].join('\n');
  const lines = [
    `Run ${started.toISOString()} with \`bun bench/memory.ts\`: ${cpus().length} CPUs, ${cpus()[0]?.model ?? '?'}, bun ${Bun.version}; load average at start ${load}. ` +
      `Each system alone; load = autocannon, 128 connections, GET then POST, ${CFG.seconds} s each. MB = MiB. JS heap = the collector's heap size (capacity in brackets); malloc = mimalloc's bytes in use, where Bun keeps its native objects (requests, responses, headers, sockets' buffers). Each probe runs a full collection after its first reading (bench/memory-probe.ts): the figures in brackets; "5 s later" follows that collection.`,
    '',
  ];
  const rows: string[][] = [['system', 'idle RSS', 'RSS under c=128: median / peak (VmHWM)', 'CPU µs/req under c=128', 'after load (after a full GC)', '5 s later', 'JS heap idle → after load', 'malloc in use idle → after load (after a full GC)', '1 GiB download']];
  for (const r of results) {
    rows.push([
      r.system, f(r.idle.rssMb, 1), `${f(r.load.rssMedianMb, 1)} / ${f(r.load.rssPeakMb, 1)} (${f(r.load.hwmMb, 1)})`, f(r.load.cpuUsPerRequest, 1), `${f(r.after.rssMb, 1)} (${f(r.after.afterFullGc.rssMb, 1)})`, f(r.settled.rssMb, 1),
      `${f(r.idle.heapMb, 1)} (${f(r.idle.heapCapacityMb, 1)}) → ${f(r.after.heapMb, 1)} (${f(r.after.heapCapacityMb, 1)})`,
      `${f(r.idle.mallocInUseMb, 1)} → ${f(r.after.mallocInUseMb, 1)} (${f(r.after.afterFullGc.mallocInUseMb, 1)})`,
      r.download ? `${f(r.download.mibPerSecond, 0)} MiB/s, peak ${f(r.download.peakRssMb, 1)} MB` : '–',
    ]);
  }
  lines.push(mdTable(rows), '');
  for (const r of results) {
    if (!r.snapshotSummary) continue;
    lines.push(`Heap snapshots of ${r.system} (a pass of its own: writing them takes memory), idle and right after the load: the largest kinds of object by self size.`, '');
    lines.push(mdTable([['kind', 'idle KB (count)', 'after load KB (count)'], ...r.snapshotSummary.map((s) => [`\`${s.kind}\``, `${f(s.beforeKb, 0)} (${s.beforeCount})`, `${f(s.afterKb, 0)} (${s.afterCount})`])]), '');
  }
  return lines.join('\n');
}

const README_START = '<!-- memory:start (written by `bun bench/memory.ts --write-readme`; do not edit by hand) -->';
const README_END = '<!-- memory:end -->';

export async function memory(): Promise<string> {
  const started = new Date();
  const loadAverage = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const tmp = mkdtempSync(join(tmpdir(), 'mlflow-proxy-memory-'));
  atCleanup(() => rmSync(tmp, { recursive: true, force: true }));
  const emptyAws = join(tmp, 'aws-empty');
  writeFileSync(emptyAws, '');
  if (!CFG.skip.has('snapshots')) mkdirSync(CFG.snapshotDir, { recursive: true });
  const upstream = await startChild('upstream', [BUN, join(import.meta.dir, 'upstream.ts')], { cwd: tmp, env: baseEnv(tmp) });
  const rulesFile = join(tmp, 'rules.yaml');
  writeFileSync(rulesFile, gatewayRules(`http://127.0.0.1:${upstream.port}`, API_KEY));
  const env = { ...baseEnv(tmp), ...awsEnv(emptyAws) };
  const gateway = [BUN, ...PROBE, CFG.gatewayEntry, 'serve', '--rules', rulesFile];
  const results: SystemResult[] = [];
  results.push(await measureSystem('floor', [BUN, ...PROBE, join(import.meta.dir, 'floor.ts'), `http://127.0.0.1:${upstream.port}`], upstream, { ...env }, tmp));
  results.push(await measureSystem('gateway', gateway, upstream, { ...env, ...GATEWAY_RUNTIME_ENV }, tmp));
  // Other heap sizings beside production's, to weigh memory against CPU (BENCH_RAM_SIZES_MB).
  for (const mb of CFG.ramSizesMb) {
    results.push(await measureSystem(`gateway, forceRAMSize ${mb} MiB`, gateway, upstream, { ...env, ...GATEWAY_RUNTIME_ENV, BUN_JSC_forceRAMSize: String(mb * 1024 * 1024) }, tmp));
  }
  // The same gateway with JavaScriptCore's own heap sizing: what GATEWAY_RUNTIME_ENV changes.
  results.push(await measureSystem('gateway, default heap sizing', gateway, upstream, { ...env }, tmp));
  if (CFG.baselineEntry) results.push(await measureSystem('baseline', [BUN, ...PROBE, CFG.baselineEntry, 'serve', '--rules', rulesFile], upstream, { ...env, ...GATEWAY_RUNTIME_ENV }, tmp));
  // The heap snapshots, in a pass of their own: the gateway as it runs, idle and right after the load.
  if (!CFG.skip.has('snapshots')) {
    const pass = await measureSystem('gateway', gateway, upstream, { ...env, ...GATEWAY_RUNTIME_ENV, BENCH_SNAPSHOT_DIR: CFG.snapshotDir }, tmp, true);
    results.find((r) => r.system === 'gateway')!.snapshotSummary = pass.snapshotSummary;
  }
  const markdown = report(results, started, loadAverage);
  mkdirSync(dirname(CFG.out), { recursive: true });
  writeFileSync(CFG.out, JSON.stringify({ startedAt: started.toISOString(), load: loadAverage, config: { ...CFG, skip: [...CFG.skip] }, results }, null, 2) + '\n');
  log(`results written to ${CFG.out.replace(ROOT + '/', '')}`);
  return markdown;
}

if (import.meta.main) {
  runMain(async () => {
    const markdown = await memory();
    console.log(`\n${markdown}`);
    if (CFG.writeReadme) writeReadmeSection(markdown, README_START, README_END);
  });
}
