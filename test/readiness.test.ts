// Readiness tells the ALB whether to route here: each check named in the JSON body.
import { describe, expect, test } from 'bun:test';
import { httpProbe, readiness } from '../src/readiness.ts';
import type { CredentialCache } from '../src/aws/credentials.ts';
import { temporaryCredentials } from './support/credentials.ts';
import { freePort } from './support/processes.ts';

const NOW = Date.parse('2026-01-01T00:00:00Z');

function cacheWith(expiresInSeconds: number): CredentialCache {
  const credentials = temporaryCredentials(new Date(NOW + expiresInSeconds * 1000), 1);
  return { get: async () => credentials, cached: () => credentials, expiration: () => credentials.expiration, refreshes: () => 1 };
}

describe('readiness', () => {
  test('ready with rules and credentials that last', async () => {
    const result = await readiness(cacheWith(3600), { minCredentialSeconds: 60, now: () => NOW });
    expect(result).toEqual({ ready: true, checks: { rules: 'ok', credentials: 'ok, expire 2026-01-01T01:00:00.000Z' } });
  });

  test('not ready while draining, without asking for credentials', async () => {
    let asked = false;
    const cache = { ...cacheWith(3600), get: async () => ((asked = true), cacheWith(3600).get()) };
    expect(await readiness(cache, { draining: () => true })).toEqual({ ready: false, checks: { shutdown: 'draining' } });
    expect(asked).toBe(false);
  });

  test('not ready when the credentials expire sooner than minCredentialSeconds', async () => {
    const result = await readiness(cacheWith(30), { minCredentialSeconds: 60, now: () => NOW });
    expect(result).toEqual({ ready: false, checks: { rules: 'ok', credentials: 'expiring 2026-01-01T00:00:30.000Z' } });
  });

  test('with an upstream probe: reachable on any HTTP answer, not ready when nothing answers', async () => {
    const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('denied', { status: 403 }) });
    try {
      expect(await readiness(undefined, { probeUpstream: httpProbe(`http://127.0.0.1:${server.port}`, 2000) })).toEqual({
        ready: true,
        checks: { rules: 'ok', upstream: 'ok' },
      });
    } finally {
      server.stop(true);
    }
    const closed = await readiness(undefined, { probeUpstream: httpProbe(`http://127.0.0.1:${await freePort()}`, 2000) });
    expect(closed.ready).toBe(false);
    expect(closed.checks.upstream).toStartWith('unreachable: ');
  });
});
