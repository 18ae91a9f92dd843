// Garbage-collection pacing for streamed bodies (responses through the audit stage, artifact uploads).
// A fast download allocates a fresh buffer per chunk faster than the collector returns them (they
// are external memory, which JSC's incremental collections leave alone): a 1 GiB transfer after a
// load run peaked at 102-110 MB RSS against 78 MB at rest. A full collection every 8 MiB streamed
// (all large responses together) held the peak at ~91 MB, but cost more than half of a single
// download's throughput through the artifact API (0.39-0.45x direct S3; 1.02x without it). So the
// collection runs only when resident memory has grown by a margin since the last collection: a
// transfer whose buffers are reused pays nothing but one RSS reading per 8 MiB, and one that piles
// up garbage is collected as before. (An absolute RSS watermark does not work: RSS stays high after
// an earlier large transfer even when nothing is waiting to be collected. The collector's
// `external` count missed the download buffers: 162 MB peak.)
// Artifact uploads (src/artifacts/s3-store.ts) count their bytes here too: one budget for all streaming.
const COLLECT_EVERY_BYTES = 8 * 1024 * 1024;
const COLLECT_AFTER_GROWTH_BYTES = 8 * 1024 * 1024;
let streamedSinceCollect = 0;
let rssAfterCollect = 0;
const bunRuntime = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
export function collectAfterStreaming(bytes: number): void {
  streamedSinceCollect += bytes;
  if (bunRuntime && streamedSinceCollect >= COLLECT_EVERY_BYTES) {
    streamedSinceCollect = 0;
    const rss = process.memoryUsage.rss();
    if (rssAfterCollect === 0 || rss > rssAfterCollect + COLLECT_AFTER_GROWTH_BYTES) {
      bunRuntime.gc(true);
      rssAfterCollect = process.memoryUsage.rss();
    }
  }
}
