// What serve builds from limits.store, with the real logger and metrics: nothing for local buckets;
// for a store that does not answer at start-up, a gateway that starts anyway on its own buckets,
// says so once and switches to the store when it appears; a missing secret stops start-up.
import { afterAll, describe, expect, test } from 'bun:test';
import { rateLimitStoreFromRules, type BuiltStore } from '../../src/limits/store-from-rules.ts';
import { createLogger } from '../../src/observability/log.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { freePort, waitFor } from '../support/processes.ts';
import { parsePrometheus, sampleValue } from '../support/prometheus.ts';
import { startValkey, type Valkey } from '../support/valkey.ts';
import type { LimitStoreSpec } from '../../src/rules/schema.ts';

const inputs = () => {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger((text) => lines.push(...text.trim().split('\n').map((l) => JSON.parse(l))), () => 'info');
  const metrics = createMetrics({ version: 't', commit: 't', runtime: 't' });
  const shared = async () => sampleValue(parsePrometheus((await metrics.render()).body), 'sagemaker_mlflow_proxy_rate_limit_store_shared');
  return { lines, shared, inputs: { log, metrics, env: {}, readFile: () => { throw new Error('ENOENT: no such file'); } } };
};
const spec = (url: string, extra: Partial<LimitStoreSpec> = {}): LimitStoreSpec => ({ kind: 'valkey', url, cluster: false, keyPrefix: 'b:', timeoutMs: 200, probeSeconds: 0.2, ...extra });

describe('rateLimitStoreFromRules', () => {
  let valkey: Valkey | undefined;
  let built: BuiltStore | undefined;
  afterAll(async () => {
    await built?.close();
    await valkey?.stop();
  });

  test('local buckets (or no limits.store) build nothing: the gateway keeps its own', async () => {
    expect((await rateLimitStoreFromRules(undefined, inputs().inputs)).store).toBeUndefined();
    expect((await rateLimitStoreFromRules({ ...spec('redis://127.0.0.1:1'), kind: 'local' }, inputs().inputs)).store).toBeUndefined();
  });

  test('a store that does not answer at start-up: the gateway starts on its own buckets, says so, and switches when it answers', async () => {
    const port = await freePort();
    const { lines, shared, inputs: given } = inputs();
    built = await rateLimitStoreFromRules(spec(`redis://127.0.0.1:${port}`), given);
    expect(await built.store!.take('client', { requestsPerSecond: 1, burst: 1 }, Date.now())).toEqual({ ok: true });
    expect(lines.filter((l) => String(l.msg).startsWith('rate-limit store unreachable'))).toHaveLength(1);
    expect(lines.find((l) => String(l.msg).startsWith('rate-limit store unreachable'))).toMatchObject({ level: 'warn', store: `redis://127.0.0.1:${port}` });
    expect(await shared()).toBe(0);

    valkey = await startValkey({ port });
    await waitFor(() => lines.some((l) => String(l.msg).startsWith('rate-limit store answers again')), 30_000);
    expect(await shared()).toBe(1);
    await built.store!.take('client', { requestsPerSecond: 1, burst: 1 }, Date.now());
    expect(valkey.cli('EXISTS', 'b:client')).toBe('1');
  });

  test('a password file that cannot be read stops start-up, naming the key and the file', async () => {
    await expect(rateLimitStoreFromRules(spec('rediss://cache.example:6379', { passwordFile: '/run/credentials/x/valkey' }), inputs().inputs)).rejects.toThrow(
      'limits.store.passwordFile: cannot read /run/credentials/x/valkey (ENOENT: no such file)',
    );
  });

  test('a password variable that is not set stops start-up, naming it', async () => {
    await expect(rateLimitStoreFromRules(spec('rediss://cache.example:6379', { passwordEnv: 'VALKEY_TOKEN' }), inputs().inputs)).rejects.toThrow(
      'limits.store.passwordEnv: environment variable VALKEY_TOKEN is not set',
    );
  });
});
