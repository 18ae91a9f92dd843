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
