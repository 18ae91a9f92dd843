// Live reloads: the new file is validated completely before one swap; a bad file keeps the old
// rules; what cannot change live is named; requests keep the rules they started with.
import { describe, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createReloader, incompatibility, loadRulesWithHash, restartOnlyChanges } from '../../src/rules/reload.ts';
import { tempDir } from '../support/processes.ts';
import { rulesFrom } from '../support/rules.ts';

const BASE = `version: 1
backend: {url: "http://127.0.0.1:5000"}
anonymous: {policies: [p]}
policies:
  p: {operations: [SearchExperiments]}
`;

function reloaderOn(text: string) {
  const file = join(tempDir('reload'), 'rules.yaml');
  writeFileSync(file, text);
  const first = loadRulesWithHash(file, {});
  if (!first.ok) throw new Error('initial rules invalid');
  const reloader = createReloader({ rules: first.rules, sha256: first.sha256! }, () => loadRulesWithHash(file, {}));
  return { file, reloader };
}

describe('rules reload', () => {
  test('a valid file replaces the rules in one swap; objects handed out before keep the old rules', () => {
    const { file, reloader } = reloaderOn(BASE);
    const before = reloader.current();
    const oldHash = reloader.sha256();
    writeFileSync(file, BASE.replace('[SearchExperiments]', '[SearchExperiments, GetExperiment]'));
    const outcome = reloader.reload();
    expect(outcome).toMatchObject({ ok: true, changed: true, restartOnly: [] });
    expect(reloader.current()).not.toBe(before);
    expect(reloader.sha256()).not.toBe(oldHash);
    expect(before.policies.get('p')!.operations.has('GetExperiment')).toBe(false);
    expect(reloader.current().policies.get('p')!.operations.has('GetExperiment')).toBe(true);
  });

  test('a bad file is refused with every problem as FILE:LINE:COL and the rules in force stay', () => {
    const { file, reloader } = reloaderOn(BASE);
    const before = reloader.current();
    writeFileSync(file, BASE.replace('[SearchExperiments]', '[SearchExperiments, Nope]'));
    const outcome = reloader.reload();
    expect(outcome.ok).toBe(false);
    const problems = outcome.ok ? [] : outcome.problems;
    expect(problems.some((p) => p.startsWith(`${file}:5:`) && p.includes('unknown MLflow operation "Nope"'))).toBe(true);
    expect(reloader.current()).toBe(before);
    writeFileSync(file, `${BASE}extra: [unclosed\n`);
    const syntax = reloader.reload();
    expect(syntax.ok ? [] : syntax.problems).toEqual([expect.stringMatching(new RegExp(`^${file}:\\d+:\\d+: \\(file\\): YAML: `))]);
    expect(reloader.current()).toBe(before);
  });

  test('an unreadable file is refused and the rules in force stay', () => {
    const { reloader } = reloaderOn(BASE);
    const before = reloader.current();
    const broken = createReloader({ rules: before, sha256: 'x' }, () => loadRulesWithHash('/nonexistent/rules.yaml', {}));
    expect(broken.reload()).toMatchObject({ ok: false, problems: ['/nonexistent/rules.yaml:1:1: (file): cannot read the rules file (ENOENT)'] });
    expect(broken.current()).toBe(before);
  });

  test('an unchanged file reloads as "not changed"', () => {
    const { reloader } = reloaderOn(BASE);
    expect(reloader.reload()).toMatchObject({ ok: true, changed: false });
  });

  test('settings read once at startup are named as needing a restart', () => {
    const a = rulesFrom(BASE);
    const b = rulesFrom(BASE.replace('version: 1\n', 'version: 1\nlisten: {port: 9000}\nmetrics: {enabled: true}\nshutdown: {drainSeconds: 3}\n'));
    expect(restartOnlyChanges(a.source, b.source)).toEqual(['listen.port', 'metrics', 'shutdown']);
    expect(restartOnlyChanges(a.source, a.source)).toEqual([]);
  });

  test('a change of backend kind or signing role is refused: the credential source is fixed at startup', () => {
    const plain = rulesFrom(BASE);
    const sagemaker = rulesFrom(BASE.replace('{url: "http://127.0.0.1:5000"}', '{arn: "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/x"}'));
    const assumed = rulesFrom(BASE.replace('{url: "http://127.0.0.1:5000"}', '{arn: "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/x", assumeRoleArn: "arn:aws:iam::123456789012:role/r"}'));
    expect(incompatibility(plain, sagemaker)).toContain('backend changes from mlflow to sagemaker');
    expect(incompatibility(sagemaker, assumed)).toContain('assumeRoleArn');
    expect(incompatibility(sagemaker, sagemaker)).toBeUndefined();
  });
});
