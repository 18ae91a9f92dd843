// One JSON line per request, whatever the outcome. Never a secret: no Authorization, keys, tokens,
// signatures, query strings (they can carry anything) or bodies. Lines are batched into one write
// per 10 ms window (or 64 KiB) so logging stays off the hot path's critical section.

export interface AuditRecord {
  ts: string;
  requestId: string;
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

/** Writes text at once (a call may be a write(2)). */
export type LineWriter = ((text: string) => void) & {
  /** The same output buffered natively, when there is such a buffer: pieces in, written on flush (Bun's stdout sink). */
  readonly buffered?: BufferedOutput;
};

export interface BufferedOutput {
  write(piece: string): void;
  flush(): void;
}

/**
 * Standard output. On Bun, its buffered file sink (one write(2) per flush); process.stdout.write
 * costs several microseconds per call under load, which is most of the audit log's price.
 */
export function stdoutWriter(): LineWriter {
  const bun = (globalThis as { Bun?: typeof Bun }).Bun;
  if (bun) {
    // Room for a whole batch of audit lines (FLUSH_AT_CHARS), so that the sink does not write on its own first.
    const sink = bun.stdout.writer({ highWaterMark: 2 * FLUSH_AT_CHARS });
    const buffered: BufferedOutput = {
      write: (piece) => void sink.write(piece),
      flush: () => void sink.flush(),
    };
    return Object.assign((text: string) => {
      sink.write(text);
      sink.flush();
    }, { buffered });
  }
  return (text) => {
    process.stdout.write(text);
  };
}

// How long a line may wait for company, and how much may wait. One write(2) and one timer per
// request cost ~20 µs of CPU at one request in flight (a Bun.serve pass-through that also logged
// each line on the next macrotask went from ~60 to ~80 µs per request; with a 10 ms window, ~62):
// at low concurrency every request had been its own macrotask, so its own write. Under load the
// window fills by size instead. Lines are never lost to the window: flush() runs at shutdown.
const FLUSH_AFTER_MS = 10;
const FLUSH_AT_CHARS = 64 * 1024;

/** Batches lines and writes them at most FLUSH_AFTER_MS later, or as soon as FLUSH_AT_CHARS are waiting. */
export function createAuditLog(writeLines: LineWriter): AuditSink {
  if (writeLines.buffered) return bufferedAuditLog(writeLines.buffered);
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
      const line = `${LINE_PREFIX}${JSON.stringify(record).slice(1)}\n`;
      pending.push(line);
      pendingChars += line.length;
      if (pendingChars >= FLUSH_AT_CHARS) flush();
      else timer ??= setTimeout(flush, FLUSH_AFTER_MS);
    },
  };
}

const LINE_PREFIX = '{"level":"info","msg":"request",';

/**
 * The same batches, the lines handed to a native buffer piece by piece: the record's JSON as
 * JSON.stringify made it, between the prefix and the newline, never concatenated into one line
 * nor joined into one batch in JavaScript. Concatenating and joining copied each line twice more
 * (about 0.6 KB allocated per request; bench/in-process.ts).
 */
function bufferedAuditLog(out: BufferedOutput): AuditSink {
  let waiting = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (waiting === 0) return;
    waiting = 0;
    out.flush();
  };
  return {
    flush,
    write(record) {
      const json = JSON.stringify(record);
      out.write(LINE_PREFIX);
      out.write(json.slice(1));
      out.write('\n');
      waiting += json.length + LINE_PREFIX.length;
      if (waiting >= FLUSH_AT_CHARS) flush();
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
