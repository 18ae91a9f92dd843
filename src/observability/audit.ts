// One JSON line per request, whatever the outcome. Never a secret: no Authorization, keys, tokens,
// signatures, query strings (they can carry anything) or bodies. Lines are batched into one write
// per tick so logging stays off the hot path's critical section.

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

/** Batches lines and writes them once per macrotask. */
export function createAuditLog(writeLines: LineWriter): AuditSink {
  let pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    writeLines(text);
  };
  return {
    flush,
    write(record) {
      // Splicing the prefix in saves copying the record into a new object on every request.
      pending.push(`{"level":"info","msg":"request",${JSON.stringify(record).slice(1)}\n`);
      if (!scheduled) {
        scheduled = true;
        setTimeout(flush, 0);
      }
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
