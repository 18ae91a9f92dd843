import { describe, expect, test } from 'bun:test';
import { cachedCredentials } from '../../src/aws/credentials.ts';
import type { AwsCredentials } from '../../src/aws/sigv4.ts';

/** A provider whose every call returns new credentials expiring `lifetime` ms after the fake clock. */
function harness(lifetime: number) {
  let clock = 1_000_000;
  let calls = 0;
  let fail = false;
  let release: (() => void) | undefined;
  let gate: Promise<void> | undefined;
  const provider = async (): Promise<AwsCredentials> => {
    calls++;
    if (gate) await gate;
    if (fail) throw new Error('IMDS unreachable');
    return { accessKeyId: `AKID${calls}`, secretAccessKey: 's', expiration: new Date(clock + lifetime) };
  };
  const cache = cachedCredentials(provider, { now: () => clock, refreshBeforeMs: 300_000, mustRefreshBeforeMs: 15_000, retryAfterMs: 5_000 });
  return {
    cache,
    calls: () => calls,
    advance: (ms: number) => (clock += ms),
    setFail: (value: boolean) => (fail = value),
    hold: () => (gate = new Promise((done) => (release = done))),
    release: () => {
      gate = undefined;
      release?.();
    },
  };
}

describe('the credential cache', () => {
  test('fetches once and serves from cache while far from expiry', async () => {
    const h = harness(3600_000);
    await h.cache.get();
    h.advance(60_000);
    expect((await h.cache.get()).accessKeyId).toBe('AKID1');
    expect(h.calls()).toBe(1);
  });

  test('near expiry, answers with the current credentials and refreshes in the background', async () => {
    const h = harness(3600_000);
    await h.cache.get();
    h.advance(3600_000 - 200_000); // 200 s left: inside the 5-minute window
    h.hold();
    expect((await h.cache.get()).accessKeyId).toBe('AKID1'); // not blocked by the refresh
    expect(h.calls()).toBe(2);
    h.release();
    await Bun.sleep(0);
    expect((await h.cache.get()).accessKeyId).toBe('AKID2');
  });

  test('runs one refresh at a time however many requests arrive', async () => {
    const h = harness(3600_000);
    await h.cache.get();
    h.advance(3600_000 - 200_000);
    h.hold();
    await Promise.all(Array.from({ length: 50 }, () => h.cache.get()));
    expect(h.calls()).toBe(2);
    h.release();
  });

  test('waits for fresh credentials when the current ones are about to expire', async () => {
    const h = harness(3600_000);
    await h.cache.get();
    h.advance(3600_000 - 5_000); // 5 s left: below the must-refresh margin
    expect((await h.cache.get()).accessKeyId).toBe('AKID2');
  });

  test('keeps serving the current credentials when a background refresh fails, and retries later', async () => {
    const h = harness(3600_000);
    await h.cache.get();
    h.advance(3600_000 - 200_000);
    h.setFail(true);
    expect((await h.cache.get()).accessKeyId).toBe('AKID1');
    await Bun.sleep(0);
    expect((await h.cache.get()).accessKeyId).toBe('AKID1');
    expect(h.calls()).toBe(2); // no retry storm within retryAfter
    h.advance(6_000);
    h.setFail(false);
    await h.cache.get();
    await Bun.sleep(0);
    expect((await h.cache.get()).accessKeyId).toBe('AKID3');
  });

  test('fails when there are no credentials at all', async () => {
    const h = harness(3600_000);
    h.setFail(true);
    await expect(h.cache.get()).rejects.toThrow('IMDS unreachable');
  });

  test('static credentials without expiry are fetched once', async () => {
    let calls = 0;
    const cache = cachedCredentials(async () => (calls++, { accessKeyId: 'AKIA', secretAccessKey: 's' }));
    await cache.get();
    await cache.get();
    expect(calls).toBe(1);
  });
});
