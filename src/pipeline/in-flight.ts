// The requests whose audit line has not been written yet. When the shutdown's finish time runs out
// and the listener cuts what is left (shutdown.ts), those requests would otherwise end with no line
// at all: the process exits before their streams notice. The audit stage registers each request
// here with the line to write if it is cut; whichever comes first, the request's own end or the
// cut, writes the one line.
import type { AuditRecord } from '../observability/audit.ts';

export interface OpenRequest {
  /** The line to write if the request is cut now; the audit stage's entry knows how far the answer got. */
  cutLine(): AuditRecord;
  done: boolean;
}

export interface InFlightAudits {
  /** Registers the audit stage's entry for a request (its own object: no closure per request). */
  open<T extends OpenRequest>(entry: T): T;
  /** True when the caller is the one to write the request's line (the cut has not written it). */
  close(entry: OpenRequest): boolean;
  /** Claims every open request and returns their lines (the caller writes them). */
  cut(): AuditRecord[];
  size(): number;
}

export function inFlightAudits(): InFlightAudits {
  const open = new Set<OpenRequest>();
  return {
    open(entry) {
      open.add(entry);
      return entry;
    },
    close(entry) {
      if (entry.done) return false;
      entry.done = true;
      open.delete(entry);
      return true;
    },
    cut() {
      const lines: AuditRecord[] = [];
      for (const entry of open) {
        entry.done = true;
        lines.push(entry.cutLine());
      }
      open.clear();
      return lines;
    },
    size: () => open.size,
  };
}
