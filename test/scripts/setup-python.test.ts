// scripts/setup-python.sh builds only what it is asked for: the README's quick start names one
// MLflow version and must not wait for the other venvs (about three minutes more), moto and cfn-lint included.
// Run against a temp root whose venv is already up to date (its marker matches the pins), so the
// script's choice of what to build is seen without pip: a venv it decided to build would need
// $PYTHON, which points nowhere here, and fail.
import { describe, expect, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, tempDir } from '../support/processes.ts';

const SCRIPT = join(REPO, 'scripts', 'setup-python.sh');

/** The pins the script writes for one MLflow 3.x venv, read from the script itself. */
function pins3x(version: string): string {
  const text = readFileSync(SCRIPT, 'utf8');
  const pin = (name: string) => new RegExp(`^${name}=(\\S+)$`, 'm').exec(text)?.[1];
  return `mlflow==${version} botocore==${pin('BOTOCORE_VERSION')} boto3==${pin('BOTO3_VERSION')}`;
}

function run(args: string[], root: string) {
  const env = { ...process.env, PROXY_VENV_ROOT: root, PYTHON: '/nonexistent/python3' };
  delete (env as Record<string, string | undefined>).MLFLOW_VERSIONS;
  return spawnSync('bash', [SCRIPT, ...args], { cwd: REPO, env, encoding: 'utf8', timeout: 30_000 });
}

describe('scripts/setup-python.sh', () => {
  test('with a version named, builds only that MLflow venv and no moto', () => {
    const root = tempDir('venvs');
    mkdirSync(join(root, 'mlflow-3.17.2'));
    writeFileSync(join(root, 'mlflow-3.17.2', '.pins'), `${pins3x('3.17.2')}\n`);
    const result = run(['3.17.2'], root);
    expect({ code: result.status, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout.trim()).toBe(`venv ${root}/mlflow-3.17.2 up to date (${pins3x('3.17.2')})`);
    expect(existsSync(join(root, 'moto'))).toBe(false);
    expect(existsSync(join(root, 'cfn-lint'))).toBe(false);
    expect(existsSync(join(root, 'mlflow-2.16.2'))).toBe(false);
  });

  test('without arguments, goes on to every venv the tests use (here failing at the first it must build)', () => {
    const root = tempDir('venvs');
    mkdirSync(join(root, 'mlflow-3.17.2'));
    writeFileSync(join(root, 'mlflow-3.17.2', '.pins'), `${pins3x('3.17.2')}\n`);
    const result = run([], root);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('/nonexistent/python3');
  });
});
