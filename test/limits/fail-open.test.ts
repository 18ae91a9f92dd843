// Failing open: when the shared store goes away (stopped, or frozen so it never answers) requests
// are still decided, on this host's buckets, with one report of the change; while it is away no
// request waits for it; once it is back the next requests count in it again. A real server is
// stopped, frozen (SIGSTOP) and restarted.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { connectValkey, type ValkeyConnection } from '../../src/limits/valkey-connection.ts';
import { sharedTokenBuckets } from '../../src/limits/shared-token-buckets.ts';
import { failOpen, SWITCH_AFTER_MS, type FailOpenStore, type StoreState } from '../../src/limits/fail-open.ts';
import { localTokenBuckets } from '../../src/limits/rate-limiter.ts';
import { waitFor } from '../support/processes.ts';
import { startValkey, type Valkey } from '../support/valkey.ts';

const LIMIT = { requestsPerSecond: 100, burst: 100 };

for (const cluster of [false, true]) describe(`a shared store that fails open (${cluster ? 'cluster protocol' : 'one server'})`, () => {
  let valkey: Valkey;
  let connection: ValkeyConnection;
  let store: FailOpenStore;
  const changes: Array<{ state: StoreState; reason?: string }> = [];
  let sharedCalls = 0;
  beforeAll(async () => {
    valkey = await startValkey({ cluster });
    connection = connectValkey({ kind: 'valkey', url: valkey.url, cluster, keyPrefix: 'fo:', timeoutMs: 200, probeSeconds: 0.2 }, {});
    await connection.connected();
    const shared = sharedTokenBuckets(connection, 'fo:');
    store = failOpen(
      {
        take: (key, limit, now) => {
          sharedCalls++;
          return shared.take(key, limit, now);
        },
        ping: connection.ping,
      },
      localTokenBuckets(),
      { timeoutMs: 200, probeMs: 200, onChange: (state, reason) => changes.push({ state, ...(reason ? { reason } : {}) }) },
    );
  });
  afterAll(async () => {
    store?.close();
    await connection?.close();
    try {
      process.kill(valkey.process().child.pid!, 'SIGCONT');
    } catch {}
    await valkey?.stop();
  });

  test('while the store answers, tokens are taken in it', async () => {
    expect(await store.take('client', LIMIT, Date.now())).toEqual({ ok: true });
    expect(store.state()).toBe('shared');
    expect(valkey.cli('-c', 'EXISTS', 'fo:client')).toBe('1');
  });

  test('a stopped store: requests are still decided, locally, and the change is reported once', async () => {
    await valkey.stop();
    const outcomes = [];
    const firstFailure = Date.now();
    // Refused connections fail at once: the host switches once they have kept failing SWITCH_AFTER_MS.
    while (store.state() === 'shared' && Date.now() - firstFailure < 10 * SWITCH_AFTER_MS) {
      outcomes.push(await store.take('client', LIMIT, Date.now()));
      await Bun.sleep(10);
    }
    expect(outcomes.length).toBeGreaterThan(1);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(store.state()).toBe('local');
    expect(changes).toHaveLength(1);
    expect(changes[0]!.state).toBe('local');
  });

  test('while it is away, requests do not try it', async () => {
    const before = sharedCalls;
    for (let i = 0; i < 50; i++) await store.take('client', LIMIT, Date.now());
    expect(sharedCalls).toBe(before);
  });

  test('local buckets still enforce the limit on this host', async () => {
    const tight = { requestsPerSecond: 0.01, burst: 2 };
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push((await store.take('tight-client', tight, Date.now())).ok);
    expect(outcomes).toEqual([true, true, false]);
  });

  test('once the store is back, the probe notices and tokens are taken in it again', async () => {
    await valkey.restart();
    await waitFor(() => store.state() === 'shared');
    expect(changes.map((c) => c.state)).toEqual(['local', 'shared']);
    await store.take('back-client', LIMIT, Date.now());
    expect(valkey.cli('-c', 'EXISTS', 'fo:back-client')).toBe('1');
  });

  test('a store that accepts but never answers (frozen) costs a request the timeout, not a hang', async () => {
    // Connected first, so the take is really sent and waits for an answer.
    await connection.ping();
    process.kill(valkey.process().child.pid!, 'SIGSTOP');
    try {
      // Each of these waits at most the timeout and is decided locally; the first ones (a stall,
      // for all the host knows) do not switch it, failures for SWITCH_AFTER_MS do, and then it stops asking.
      const first = Date.now();
      let takes = 0;
      while (store.state() === 'shared' && Date.now() - first < 10 * SWITCH_AFTER_MS) {
        expect(await store.take('frozen-client', LIMIT, Date.now())).toEqual({ ok: true });
        takes++;
      }
      expect(takes).toBeGreaterThan(1);
      expect(store.state()).toBe('local');
      expect(changes.at(-1)!.reason).toMatch(/timeout|timed out|within 200 ms/i);
    } finally {
      process.kill(valkey.process().child.pid!, 'SIGCONT');
    }
    await waitFor(() => store.state() === 'shared');
  });
});
