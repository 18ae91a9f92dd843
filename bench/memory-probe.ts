// Preloaded into a bench's Bun server (`bun --preload bench/memory-probe.ts ENTRY …`, bench/memory.ts):
// on SIGUSR2 it writes one line on stderr, `memory-probe {…}`, with the process's memory as its
// own parts see it: resident set, the JavaScript heap (size, capacity, external memory, object
// count), mimalloc's bytes in use and committed (Bun allocates its native objects there), and,
// with BENCH_SNAPSHOT_DIR set, the path of a V8-format heap snapshot written at that moment
// (node:v8 writeHeapSnapshot, which Bun implements; open it in Chrome's DevTools, Memory tab); then
// the same figures after a full collection (afterFullGc): what garbage was holding. The gateway
// does not use SIGUSR2.
import { heapStats } from 'bun:jsc';
import { writeHeapSnapshot } from 'node:v8';
import { join } from 'node:path';

let taken = 0;
process.on('SIGUSR2', () => {
  const picture = measure();
  // The same after a full collection: what the collector could give back at once.
  (globalThis as { Bun?: { gc(full: boolean): void } }).Bun?.gc(true);
  process.stderr.write(`memory-probe ${JSON.stringify({ ...picture, afterFullGc: measure(false) })}\n`);
});

function measure(withSnapshot = true) {
  const stats = heapStats() as ReturnType<typeof heapStats> & { mimalloc?: { committed?: { current: number }; malloc_normal?: { current: number }; malloc_huge?: { current: number } } };
  const mi = stats.mimalloc;
  const rss = process.memoryUsage.rss();
  // The snapshot last: writing it takes memory of its own.
  const dir = process.env.BENCH_SNAPSHOT_DIR;
  const snapshot = dir && withSnapshot ? writeHeapSnapshot(join(dir, `snapshot-${process.pid}-${++taken}.heapsnapshot`)) : undefined;
  const mb = (bytes: number | undefined) => (bytes === undefined ? null : Math.round((bytes / 1048576) * 10) / 10);
  return {
    rssMb: mb(rss),
    heapMb: mb(stats.heapSize),
    heapCapacityMb: mb(stats.heapCapacity),
    externalMb: mb(stats.extraMemorySize),
    objects: stats.objectCount,
    mallocInUseMb: mi ? mb((mi.malloc_normal?.current ?? 0) + (mi.malloc_huge?.current ?? 0)) : null,
    mallocCommittedMb: mi ? mb(mi.committed?.current) : null,
    ...(snapshot ? { snapshot } : {}),
  };
}
