// The checks on limits.store that the schema cannot express, reported like every other rules
// problem (file:line:col and key path, all at once). Nothing here connects anywhere: `check` stays
// offline, and an unreachable store is not a rules problem (the gateway fails open, fail-open.ts).
import type { LimitStoreSpec } from '../rules/schema.ts';
import type { KeyPath, ProblemList } from '../rules/problems.ts';

const AT: KeyPath = ['limits', 'store'];
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export function checkLimitStore(spec: LimitStoreSpec | undefined, problems: ProblemList): void {
  if (spec === undefined) return;
  if (spec.kind === 'local') {
    if (spec.url !== undefined) problems.warning([...AT, 'url'], 'ignored: limits.store.kind is local (set kind: valkey to share the buckets)');
    return;
  }
  if (spec.url === undefined) {
    problems.error([...AT, 'url'], 'required for kind valkey, e.g. rediss://my-cache.serverless.use1.cache.amazonaws.com:6379');
    return;
  }
  let url: URL;
  try {
    url = new URL(spec.url);
  } catch {
    problems.error([...AT, 'url'], `"${spec.url}" is not a URL`);
    return;
  }
  if (!url.hostname) problems.error([...AT, 'url'], 'names no host');
  // The rules file is read by everyone who reviews it, and `check` prints what it loaded.
  if (url.password) problems.error([...AT, 'url'], 'holds a password: put it in passwordFile or passwordEnv, never in the rules file');
  if (url.pathname !== '' && url.pathname !== '/') problems.error([...AT, 'url'], 'has a path (a database number): the buckets use database 0, the only one a cluster has');
  if (spec.passwordFile !== undefined && spec.passwordEnv !== undefined) problems.error([...AT, 'passwordEnv'], 'set passwordFile or passwordEnv, not both');
  const tls = url.protocol === 'rediss:';
  if (spec.caFile !== undefined && !tls) problems.error([...AT, 'caFile'], 'only for a rediss:// (TLS) URL');
  const secret = spec.passwordFile !== undefined || spec.passwordEnv !== undefined;
  if (!tls && secret && !LOOPBACK.has(url.hostname)) {
    problems.warning([...AT, 'url'], 'redis:// sends the password in clear text over the network: use rediss:// (ElastiCache Serverless accepts only TLS)');
  }
}
