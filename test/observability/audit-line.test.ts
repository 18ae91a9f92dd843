// The audit stage builds its record field by field (pipeline/audit-line.ts auditRecord) instead of
// spreading a small object per optional field; the record's insertion order is the line's JSON
// order, so these check that order, and the line the audit log writes from it.
import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAuditLog, type AuditRecord } from '../../src/observability/audit.ts';
import { auditRecord } from '../../src/pipeline/audit-line.ts';
import { receive } from '../../src/pipeline/receive.ts';
import { PermissionDenied } from '../../src/errors.ts';

// The line's field order (as the golden fixture and operators' log parsers have it).
const ORDER: Array<keyof AuditRecord> = [
  'ts', 'requestId', 'clientIp', 'userAgent', 'clientId', 'authMethod', 'method', 'path', 'upstreamPath', 'rewrites', 'operation',
  'policy', 'decision', 'reason', 'wouldAllow', 'status', 'errorCode', 'bytesIn', 'bytesOut', 'upstreamMs', 'totalMs', 'incomplete',
];
const inLineOrder = (record: AuditRecord) => ORDER.filter((key) => key in record);

function scopeOf(url: string) {
  const scope = receive(new Request(url, { headers: { 'user-agent': 'mlflow-python-client/3.17.2' } }), '127.0.0.1', false);
  scope.identity = { id: 'ci', authMethod: 'api-key', policies: [] } as unknown as typeof scope.identity;
  scope.upstreamPath = '/api/2.0/mlflow/runs/get';
  scope.operation = 'GetRun';
  return scope;
}

describe('the audit record of a finished request', () => {
  test('an allowed request: its fields, in the line order, absent ones left out', () => {
    const scope = scopeOf('http://gw/api/2.0/mlflow/runs/get?run_id=1');
    scope.decision = { allowed: true, policy: 'readers', reason: 'operation GetRun' };
    scope.upstreamMs = 1.23456;
    const record = auditRecord(scope, 200, 42, false);
    expect(Object.keys(record)).toEqual(inLineOrder(record));
    expect(record).toMatchObject({ clientId: 'ci', authMethod: 'api-key', policy: 'readers', decision: 'allowed', status: 200, bytesOut: 42, upstreamMs: 1.23 });
    expect('errorCode' in record || 'incomplete' in record || 'wouldAllow' in record || 'rewrites' in record).toBe(false);
  });

  test('a denied, cut-off request: every optional field it has, still in the line order', () => {
    const scope = scopeOf('http://gw/api/2.0/mlflow/runs/get?run_id=1');
    scope.rewrites = ['strip /mlflow'];
    scope.decision = { allowed: false, reason: 'no policy allows it', wouldAllow: 'writers' };
    scope.error = new PermissionDenied('denied');
    const record = auditRecord(scope, 403, 0, true);
    expect(Object.keys(record)).toEqual(inLineOrder(record));
    expect(record).toMatchObject({ decision: 'denied', errorCode: 'PERMISSION_DENIED', wouldAllow: 'writers', incomplete: true, rewrites: ['strip /mlflow'] });
    expect('policy' in record || 'upstreamMs' in record).toBe(false);
  });

  test('the audit log writes level and message first, then the record, one line each, batched', () => {
    const written: string[] = [];
    const log = createAuditLog((text) => written.push(text));
    const golden = JSON.parse(readFileSync(join(import.meta.dir, '..', 'fixtures', 'golden-audit.json'), 'utf8'));
    const a = { ...golden['allowed GET'], totalMs: 1, upstreamMs: 0.5 } as AuditRecord;
    const b = { ...golden['denied operation'], totalMs: 2 } as AuditRecord;
    log.write(a);
    log.write(b);
    log.flush?.();
    const line = (r: AuditRecord) => `{"level":"info","msg":"request",${JSON.stringify(r).slice(1)}\n`;
    expect(written).toEqual([line(a) + line(b)]);
  });

  test('lines wait for company: one write for a window of lines, at once when 64 KiB are waiting', async () => {
    const written: string[] = [];
    const log = createAuditLog((text) => written.push(text));
    const golden = JSON.parse(readFileSync(join(import.meta.dir, '..', 'fixtures', 'golden-audit.json'), 'utf8'));
    const record = { ...golden['allowed GET'], totalMs: 1, upstreamMs: 0.5 } as AuditRecord;
    log.write(record);
    log.write(record);
    expect(written).toHaveLength(0); // not one write per line
    await Bun.sleep(50);
    expect(written).toHaveLength(1);
    expect(written[0]!.split('\n')).toHaveLength(3);
    const perLine = written[0]!.length / 2;
    for (let i = 0; i * perLine < 64 * 1024; i++) log.write(record);
    expect(written).toHaveLength(2); // written as soon as the batch reached 64 KiB, without waiting
    log.flush?.();
    expect(written).toHaveLength(2); // nothing was left over
  });
});
