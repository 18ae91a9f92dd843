// The gateway tells the journal each operational line's priority only when its stdout is the
// journal (systemd's JOURNAL_STREAM names that very stream): a real `serve` writing into a file
// whose device and inode are given as JOURNAL_STREAM, as systemd gives its stream's, and the same
// with a JOURNAL_STREAM naming some other stream (a child whose stdout was redirected).
import { afterEach, describe, expect, test } from 'bun:test';
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isJournal } from '../../src/observability/journal.ts';
import { BUN, cleanAwsEnv, REPO, tempDir, waitFor } from '../support/processes.ts';

describe('isJournal', () => {
  test('is true only when JOURNAL_STREAM names the stream\'s own device and inode', () => {
    expect(isJournal('64:1234', () => ({ dev: 64, ino: 1234 }))).toBe(true);
    expect(isJournal('64:1234', () => ({ dev: 64n, ino: 1234n }))).toBe(true);
    expect(isJournal('64:1235', () => ({ dev: 64, ino: 1234 }))).toBe(false);
    expect(isJournal(undefined, () => ({ dev: 64, ino: 1234 }))).toBe(false);
    expect(isJournal('nonsense', () => ({ dev: 64, ino: 1234 }))).toBe(false);
    expect(isJournal('64:1234', () => { throw new Error('EBADF'); })).toBe(false);
  });
});

const children: Array<ReturnType<typeof spawn>> = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** serve with stdout into a file; JOURNAL_STREAM names that file, or (other) another stream. */
async function serveInto(journalStream: 'stdout' | 'other'): Promise<string[]> {
  const dir = tempDir('journal');
  const rules = join(dir, 'rules.yaml');
  // A key without expiry: one warning at start.
  writeFileSync(rules, `version: 1\nlisten: {host: 127.0.0.1, port: 0}\nbackend: {url: "http://127.0.0.1:9"}\nclients: [{id: a, apiKeys: [{sha256: "${'a'.repeat(64)}"}], policies: [p]}]\npolicies: {p: {operations: [GetRun]}}\n`);
  const outFile = join(dir, 'stdout');
  const fd = openSync(outFile, 'w');
  const stat = fstatSync(fd);
  const stream = journalStream === 'stdout' ? `${stat.dev}:${stat.ino}` : `${stat.dev}:${stat.ino + 1}`;
  const child = spawn(BUN, [join(REPO, 'src/main.ts'), 'serve', '--rules', rules], { env: cleanAwsEnv({ JOURNAL_STREAM: stream }), stdio: ['ignore', fd, 'pipe'] });
  children.push(child);
  closeSync(fd);
  await waitFor(() => readFileSync(outFile, 'utf8').includes('"msg":"listening"'), 30_000);
  child.kill('SIGINT');
  await new Promise((done) => child.once('exit', done));
  return readFileSync(outFile, 'utf8').split('\n').filter(Boolean);
}

describe('serve under the journal', () => {
  test('prefixes each operational line with its priority (<4> for the warning, <6> for info)', async () => {
    const lines = await serveInto('stdout');
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.every((line) => /^<[3467]>\{/.test(line))).toBe(true);
    expect(lines.find((line) => line.includes('"msg":"rules warning"'))).toStartWith('<4>{"level":"warn"');
    expect(lines.find((line) => line.includes('"msg":"listening"'))).toStartWith('<6>{"level":"info"');
  });

  test('writes plain JSON when JOURNAL_STREAM names another stream', async () => {
    const lines = await serveInto('other');
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.map((line) => JSON.parse(line).level)).toContain('warn');
  });
});

test('a serve that refuses to start says so at error priority when stderr is the journal', async () => {
  const dir = tempDir('journal-refused');
  const errFile = join(dir, 'stderr');
  const fd = openSync(errFile, 'w');
  const stat = fstatSync(fd);
  const child = spawn(BUN, [join(REPO, 'src/main.ts'), 'serve', '--rules', join(dir, 'missing.yaml')], { env: cleanAwsEnv({ JOURNAL_STREAM: `${stat.dev}:${stat.ino}` }), stdio: ['ignore', 'ignore', fd] });
  closeSync(fd);
  const code = await new Promise((done) => child.once('exit', done));
  expect(code).toBe(1);
  const lines = readFileSync(errFile, 'utf8').split('\n').filter(Boolean);
  expect(lines.length).toBe(2);
  expect(lines.every((line) => line.startsWith('<3>'))).toBe(true);
  expect(lines[0]).toContain('cannot read the rules file (ENOENT)');
});
