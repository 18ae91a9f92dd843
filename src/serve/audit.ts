// The per-request audit lines: every record feeds the metrics; the line itself is written only while
// the rules in force say logging.requests, so a reload can switch it on or off.
import { createAuditLog, type AuditSink, type LineWriter } from '../observability/audit.ts';
import { meteredAudit, type GatewayMetrics } from '../observability/gateway-metrics.ts';
import type { CompiledRules } from '../rules/compile.ts';

export function buildAudit(write: LineWriter, rulesInForce: () => CompiledRules, metrics: GatewayMetrics): AuditSink {
  const requestLog = createAuditLog(write);
  return meteredAudit(
    {
      write(record) {
        if (rulesInForce().source.logging.requests) requestLog.write(record);
      },
      flush: () => requestLog.flush?.(),
    },
    metrics,
  );
}
