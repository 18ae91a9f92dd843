// One JSON line per request, whatever the outcome. Never a secret: no Authorization, keys, tokens,
// signatures, query strings (they can carry anything) or bodies. Lines are batched into one write
// per 10 ms window (or 64 KiB) so logging stays off the hot path's critical section.

export interface AuditRecord {
  ts: string;
  requestId: string;
  /** With tracing on: the request's trace (W3C trace id, 32 hex digits) and its server span in it. */
  traceId?: string;
  spanId?: string;
  clientIp: string;
  userAgent?: string;
  clientId?: string;
  authMethod?: string;
  method: string;
  path: string;
  upstreamPath?: string;
  rewrites?: string[];
  operation?: string;
  policy?: string;
  decision: 'allowed' | 'denied' | 'unauthenticated' | 'rate-limited' | 'rejected' | 'gateway' | 'redirected';
  reason?: string;
  /** For a denial: the policies (and their holders) that would have allowed it. Log only. */
  wouldAllow?: string;
  status: number;
  errorCode?: string;
  bytesIn: number;
  bytesOut: number;
  upstreamMs?: number;
  totalMs: number;
  /** The response body did not finish (client gone, upstream broke). */
  incomplete?: boolean;
  /** Why it did not: `client went away`, or `upstream: <error>` (log only, never the body). */
  incompleteReason?: string;
}

export interface AuditSink {
  write(record: AuditRecord): void;
  /** Writes what is still batched (before the process exits). */
  flush?(): void;
}

export type LineWriter = (text: string) => void;

/**
 * Standard output. On Bun, its buffered file sink (one write(2) per flush); process.stdout.write
 * costs several microseconds per call under load, which is most of the audit log's price.
 */
export function stdoutWriter(): LineWriter {
  const bun = (globalThis as { Bun?: typeof Bun }).Bun;
  if (bun) {
    const sink = bun.stdout.writer();
    return (text) => {
      sink.write(text);
      sink.flush();
    };
  }
  return (text) => {
    process.stdout.write(text);
  };
}

// The batch is one string, written with one call: on a pipe or a socket (journald's stream, a
// bench reading stdout) Bun's stdout sink makes an epoll_ctl system call for every write() it is
// given, so handing it each line, or each piece of one, cost about 7 µs of CPU per request under
// load (issue 21, measured with bench/ladder.ts's audit rung: 50.7 µs per request writing pieces,
// 43.1 writing to /dev/null, 42.5 writing nothing; strace: 59,403 epoll_ctl for 60,000 writes).
// How long a line may wait for company, and how much may wait. One write(2) and one timer per
// request cost ~20 µs of CPU at one request in flight (a Bun.serve pass-through that also logged
// each line on the next macrotask went from ~60 to ~80 µs per request; with a 10 ms window, ~62):
// at low concurrency every request had been its own macrotask, so its own write. Under load the
// window fills by size instead. Lines are never lost to the window: flush() runs at shutdown.
const FLUSH_AFTER_MS = 10;
const FLUSH_AT_CHARS = 64 * 1024;

/** Batches lines and writes them at most FLUSH_AFTER_MS later, or as soon as FLUSH_AT_CHARS are waiting. */
export function createAuditLog(writeLines: LineWriter): AuditSink {
  let pending: string[] = [];
  let pendingChars = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    pendingChars = 0;
    writeLines(text);
  };
  return {
    flush,
    write(record) {
      // Splicing the prefix in saves copying the record into a new object on every request.
      const line = `{"level":"info","msg":"request",${JSON.stringify(record).slice(1)}\n`;
      pending.push(line);
      pendingChars += line.length;
      if (pendingChars >= FLUSH_AT_CHARS) flush();
      else timer ??= setTimeout(flush, FLUSH_AFTER_MS);
    },
  };
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * Operational messages (startup, credential refresh, reloads) share the JSON-lines format and the
 * audit lines' field order: level, msg, ts, then the fields. `prefix` is the journal priority
 * (observability/journal.ts), '' elsewhere; audit lines need none, they are info, journald's default.
 */
export function logEvent(writeLines: LineWriter, level: LogLevel, msg: string, fields: Record<string, unknown> = {}, prefix = ''): void {
  writeLines(`${prefix}${JSON.stringify({ level, msg, ts: new Date().toISOString(), ...fields })}\n`);
}
