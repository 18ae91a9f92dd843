// Operational lines are filtered by the level in force (which a reload can change); each is one
// JSON object with ts, level and msg.
import { expect, test } from 'bun:test';
import { createLogger } from '../../src/observability/log.ts';
import type { LogLevel } from '../../src/observability/audit.ts';

test('lines below the level in force are dropped, and the level is read at each call', () => {
  const lines: string[] = [];
  let level: LogLevel = 'warn';
  const log = createLogger((text) => lines.push(text), () => level);
  log.log('info', 'quiet');
  log.log('error', 'loud', { problems: ['a.yaml:1:1: x'] });
  level = 'debug';
  log.log('debug', 'now shown');
  const parsed = lines.map((l) => JSON.parse(l));
  expect(parsed.map((p) => [p.level, p.msg])).toEqual([['error', 'loud'], ['debug', 'now shown']]);
  expect(parsed[0].problems).toEqual(['a.yaml:1:1: x']);
  expect(Date.parse(parsed[0].ts)).not.toBeNaN();
  expect(lines.every((l) => l.endsWith('}\n'))).toBe(true);
});

test('operational and audit lines share one field order: level, msg, ts, then the fields', async () => {
  const lines: string[] = [];
  createLogger((text) => lines.push(text), () => 'info').log('info', 'listening', { port: 1 });
  const { createAuditLog } = await import('../../src/observability/audit.ts');
  const audit = createAuditLog((text) => lines.push(text));
  audit.write({ ts: new Date().toISOString(), requestId: 'r', clientIp: '127.0.0.1', method: 'GET', path: '/', decision: 'allowed', status: 200, bytesIn: 0, bytesOut: 0, totalMs: 1 });
  audit.flush!();
  expect(lines.map((line) => Object.keys(JSON.parse(line)).slice(0, 3))).toEqual([
    ['level', 'msg', 'ts'],
    ['level', 'msg', 'ts'],
  ]);
});

test('written to the journal, each line starts with its syslog priority, which journald strips, so the rest stays JSON', () => {
  const lines: string[] = [];
  const log = createLogger((text) => lines.push(text), () => 'debug', { journal: true });
  log.log('error', 'rules reload refused');
  log.log('warn', 'rules warning');
  log.log('info', 'listening');
  log.log('debug', 'detail');
  expect(lines.map((line) => line.slice(0, 4))).toEqual(['<3>{', '<4>{', '<6>{', '<7>{']);
  expect(lines.map((line) => JSON.parse(line.slice(3)).msg)).toEqual(['rules reload refused', 'rules warning', 'listening', 'detail']);
});
