// limits.store in the rules file: what is refused (with file:line:col and the key path, like every
// rules problem) and what is filled in.
import { describe, expect, test } from 'bun:test';
import { problemsOf, rulesFrom } from '../support/rules.ts';
import { restartOnlyChanges } from '../../src/rules/reload.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../support/processes.ts';

const rules = (store: string) => `version: 1
backend: {url: http://127.0.0.1:5000}
limits:
  store: ${store}
`;

describe('limits.store', () => {
  test('absent, the buckets stay in each process', () => {
    expect(rulesFrom('version: 1\nbackend: {url: http://127.0.0.1:5000}\n').source.limits.store).toBeUndefined();
  });

  test('kind valkey gets its defaults: a 50 ms bound on each take, a probe every 2 s, no cluster protocol', () => {
    expect(rulesFrom(rules('{kind: valkey, url: "rediss://cache.example:6379", passwordEnv: VALKEY_TOKEN}')).source.limits.store).toEqual({
      kind: 'valkey', url: 'rediss://cache.example:6379', passwordEnv: 'VALKEY_TOKEN', cluster: false, keyPrefix: 'smp:rl:', timeoutMs: 50, probeSeconds: 2,
    });
  });

  test('the URL may come from the environment, as the unit\'s EnvironmentFile gives it', () => {
    const store = rulesFrom(rules('{kind: valkey, url: "${VALKEY_URL}", cluster: true}'), { VALKEY_URL: 'rediss://c.serverless.use1.cache.amazonaws.com:6379' }).source.limits.store;
    expect(store).toMatchObject({ url: 'rediss://c.serverless.use1.cache.amazonaws.com:6379', cluster: true });
  });

  const refused: Array<[string, string, RegExp]> = [
    ['kind valkey without a URL', '{kind: valkey}', /test\.yaml:4:\d+: limits\.store\.url: required for kind valkey/],
    ['a password in the URL', '{kind: valkey, url: "rediss://default:hunter2hunter2@cache.example:6379"}', /limits\.store\.url: holds a password/],
    ['a database number', '{kind: valkey, url: "redis://127.0.0.1:6379/3"}', /limits\.store\.url: has a path/],
    ['an http URL', '{kind: valkey, url: "http://cache.example"}', /limits\.store\.url: .*rediss\?/],
    ['both password sources', '{kind: valkey, url: "rediss://c:6379", passwordFile: /run/x, passwordEnv: X}', /limits\.store\.passwordEnv: set passwordFile or passwordEnv, not both/],
    ['a CA for a plain connection', '{kind: valkey, url: "redis://c:6379", caFile: /etc/ca.pem}', /limits\.store\.caFile: only for a rediss:\/\//],
    ['a take bound over a second', '{kind: valkey, url: "rediss://c:6379", timeoutMs: 5000}', /limits\.store\.timeoutMs/],
    ['an unknown kind', '{kind: memcached, url: "rediss://c:6379"}', /limits\.store\.kind/],
  ];
  for (const [what, store, message] of refused) {
    test(`refuses ${what}`, () => {
      expect(problemsOf(rules(store)).join('\n')).toMatch(message);
    });
  }

  test('warns when a password would cross the network in clear text', () => {
    expect(problemsOf(rules('{kind: valkey, url: "redis://cache.example:6379", passwordEnv: T}')).join('\n')).toMatch(/warning: redis:\/\/ sends the password in clear text/);
    expect(problemsOf(rules('{kind: valkey, url: "redis://127.0.0.1:6379", passwordEnv: T}'))).toEqual([]);
  });

  test('the fleet example of docs/fleet-limits.md loads as written, the password file under systemd\'s credentials directory', () => {
    const page = readFileSync(join(REPO, 'docs', 'fleet-limits.md'), 'utf8');
    const example = /```yaml\n([\s\S]*?)```/.exec(page)![1]!;
    // VALKEY_ENDPOINT / VALKEY_USER as infra/'s user data writes them (host:port).
    const store = rulesFrom(`version: 1\nbackend: {url: http://127.0.0.1:5000}\n${example}`, {
      VALKEY_ENDPOINT: 'my-cache-abc123.serverless.use1.cache.amazonaws.com:6379',
      VALKEY_USER: 'mlflow-proxy',
    }).source.limits.store;
    expect(store).toMatchObject({
      kind: 'valkey',
      url: 'rediss://my-cache-abc123.serverless.use1.cache.amazonaws.com:6379',
      cluster: true,
      username: 'mlflow-proxy',
      passwordFile: '/run/credentials/sagemaker-mlflow-proxy.service/valkey',
    });
  });

  test('a change takes effect at the next restart, and a reload says so', () => {
    const before = rulesFrom(rules('{kind: local}')).source;
    const after = rulesFrom(rules('{kind: valkey, url: "redis://127.0.0.1:6379"}')).source;
    expect(restartOnlyChanges(before, after)).toContain('limits.store');
  });
});
