// The shared token buckets against a real Valkey / Redis server: what several gateways see when
// they count in one place, over plain TCP, TLS with a password (as ElastiCache requires) and the
// cluster protocol (ElastiCache Serverless is cluster-mode only).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { connectValkey, type ValkeyConnection } from '../../src/limits/valkey-connection.ts';
import { sharedTokenBuckets } from '../../src/limits/shared-token-buckets.ts';
import { signInFailureGuard } from '../../src/limits/sign-in-failures.ts';
import { waitFor } from '../support/processes.ts';
import { startValkey, type Valkey } from '../support/valkey.ts';
import type { LimitStoreSpec } from '../../src/rules/schema.ts';

const spec = (url: string, extra: Partial<LimitStoreSpec> = {}): LimitStoreSpec & { url: string } => ({
  kind: 'valkey', url, cluster: false, keyPrefix: 'test:', timeoutMs: 1000, probeSeconds: 1, ...extra,
});

async function connected(connection: ValkeyConnection): Promise<ValkeyConnection> {
  await connection.connected();
  return connection;
}

describe('shared token buckets on one server', () => {
  let valkey: Valkey;
  const connections: ValkeyConnection[] = [];
  const host = async () => {
    const connection = await connected(connectValkey(spec(valkey.url), {}));
    connections.push(connection);
    return sharedTokenBuckets(connection, 'test:');
  };
  beforeAll(async () => {
    valkey = await startValkey();
  });
  afterAll(async () => {
    for (const connection of connections) await connection.close();
    await valkey?.stop();
  });

  test('a burst is allowed, the next request is refused with the time until a token refills', async () => {
    const store = await host();
    const limit = { requestsPerSecond: 0.5, burst: 3 };
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await store.take('burst', limit, Date.now()));
    expect(results.slice(0, 3)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(results[3]!.ok).toBe(false);
    const retry = (results[3] as { retryAfterMs: number }).retryAfterMs;
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(2000);
  });

  test('three hosts draw from one bucket: together they get the burst, not three times it', async () => {
    const hosts = [await host(), await host(), await host()];
    const limit = { requestsPerSecond: 0.01, burst: 5 };
    const outcomes = await Promise.all(Array.from({ length: 15 }, (_, i) => hosts[i % 3]!.take('fleet-client', limit, Date.now())));
    expect(outcomes.filter((o) => o.ok).length).toBe(5);
  });

  test('a spent bucket refills at the configured rate', async () => {
    const store = await host();
    const limit = { requestsPerSecond: 20, burst: 1 };
    expect(await store.take('refill', limit, Date.now())).toEqual({ ok: true });
    expect((await store.take('refill', limit, Date.now())).ok).toBe(false);
    let again = false;
    while (!again) again = (await store.take('refill', limit, Date.now())).ok;
    expect(again).toBe(true);
  });

  test('an idle bucket expires once it would be full again, so idle identities cost no memory', async () => {
    const store = await host();
    await store.take('expiring', { requestsPerSecond: 2, burst: 4 }, Date.now());
    const ttl = Number(valkey.cli('PTTL', 'test:expiring'));
    // One token spent at 2/s: full again after 0.5 s, kept 1 s longer.
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1500);
    await waitFor(() => valkey.cli('EXISTS', 'test:expiring') === '0');
  });

  test('failed sign-ins on different hosts count against one bucket per address', async () => {
    const [a, b] = [signInFailureGuard(await host()), signInFailureGuard(await host())];
    const limit = { requestsPerSecond: 0.01, burst: 3 };
    const now = Date.now();
    await a.failed('203.0.113.9', limit, now);
    await b.failed('203.0.113.9', limit, now);
    await a.failed('203.0.113.9', limit, now);
    expect(a.blockedFor('203.0.113.9', now)).toBeUndefined();
    // The fourth failure, on the other host, finds the shared bucket empty: that host blocks the address.
    await b.failed('203.0.113.9', limit, now);
    expect(b.blockedFor('203.0.113.9', now)).toBeGreaterThan(0);
    expect(b.blockedFor('198.51.100.1', now)).toBeUndefined();
  });

  test('a server that lost its scripts (restart, failover) is sent the script again', async () => {
    const store = await host();
    expect((await store.take('flushed', { requestsPerSecond: 1, burst: 2 }, Date.now())).ok).toBe(true);
    valkey.cli('SCRIPT', 'FLUSH');
    expect((await store.take('flushed', { requestsPerSecond: 1, burst: 2 }, Date.now())).ok).toBe(true);
    expect((await store.take('flushed', { requestsPerSecond: 1, burst: 2 }, Date.now())).ok).toBe(false);
  });
});

describe('over TLS with a password, as ElastiCache wants it', () => {
  let valkey: Valkey;
  beforeAll(async () => {
    valkey = await startValkey({ tls: true, password: 'correct horse battery staple' });
  });
  afterAll(async () => {
    await valkey?.stop();
  });

  test('a rediss:// URL with the CA and the password takes tokens', async () => {
    const connection = await connected(connectValkey(spec(valkey.url), { password: 'correct horse battery staple', ca: readFileSync(valkey.caFile!, 'utf8') }));
    try {
      const store = sharedTokenBuckets(connection, 'tls:');
      expect(await store.take('client', { requestsPerSecond: 1, burst: 1 }, Date.now())).toEqual({ ok: true });
      expect(valkey.cli('EXISTS', 'tls:client')).toBe('1');
    } finally {
      await connection.close();
    }
  });

  test('a wrong password gets no token: the take fails (and the gateway falls back, fail-open.ts)', async () => {
    const connection = connectValkey(spec(valkey.url), { password: 'wrong', ca: readFileSync(valkey.caFile!, 'utf8') });
    try {
      await waitFor(() => /WRONGPASS|invalid username-password/i.test(connection.lastError() ?? ''));
      await expect(sharedTokenBuckets(connection, 'tls:').take('intruder', { requestsPerSecond: 1, burst: 1 }, Date.now())).rejects.toThrow();
      expect(valkey.cli('EXISTS', 'tls:intruder')).toBe('0');
    } finally {
      await connection.close();
    }
  });

  test('a certificate from an unknown CA is refused', async () => {
    const connection = connectValkey(spec(valkey.url), { password: 'correct horse battery staple' });
    try {
      await waitFor(() => /certificate/i.test(connection.lastError() ?? ''));
      await expect(connection.ping()).rejects.toThrow();
    } finally {
      await connection.close();
    }
  });
});

describe('on a cluster over TLS with a password (what ElastiCache Serverless is)', () => {
  let valkey: Valkey;
  beforeAll(async () => {
    valkey = await startValkey({ cluster: true, tls: true, password: 'serverless-password-0123' });
  });
  afterAll(async () => {
    await valkey?.stop();
  });

  test('a cluster-mode connection takes tokens from the node that owns the key', async () => {
    const connection = await connected(connectValkey(spec(valkey.url, { cluster: true }), { password: 'serverless-password-0123', ca: readFileSync(valkey.caFile!, 'utf8') }));
    try {
      const store = sharedTokenBuckets(connection, 'cluster:');
      const limit = { requestsPerSecond: 0.01, burst: 2 };
      const outcomes = [];
      for (let i = 0; i < 3; i++) outcomes.push((await store.take('client', limit, Date.now())).ok);
      expect(outcomes).toEqual([true, true, false]);
      expect(valkey.cli('-c', 'EXISTS', 'cluster:client')).toBe('1');
    } finally {
      await connection.close();
    }
  });
});
