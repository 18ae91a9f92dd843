// Builds the rate-limit store limits.store asks for, once at start-up (a change needs a restart,
// rules/reload.ts): nothing for `local` (the gateway keeps its own buckets), or for `valkey` the
// shared buckets behind the fail-open wrapper, reporting each transition as one log line and the
// rate_limit_store_shared metric. ioredis is loaded only when a shared store is configured, like the
// other SDKs that only some hosts need (main.ts).
//
// Start-up never waits for the store beyond one timeout: a fleet must come up (and keep serving)
// while its cache is away, so an unanswered first PING starts the host on local buckets.
import type { Logger } from '../observability/log.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import type { LimitStoreSpec } from '../rules/schema.ts';
import { localTokenBuckets, type RateLimitStore } from './rate-limiter.ts';
import { failOpen, within } from './fail-open.ts';
import { sharedTokenBuckets } from './shared-token-buckets.ts';
import type { ValkeySecrets } from './valkey-connection.ts';

export interface BuiltStore {
  /** Undefined for kind local: the gateway's default buckets. */
  store?: RateLimitStore;
  close(): Promise<void>;
}

export interface StoreInputs {
  log: Logger;
  metrics: Pick<GatewayMetrics, 'rateLimitStoreShared'>;
  /** The environment and a file reader: main.ts is the one place that reads them. */
  env: Record<string, string | undefined>;
  readFile: (file: string) => string;
}

export async function rateLimitStoreFromRules(spec: LimitStoreSpec | undefined, inputs: StoreInputs): Promise<BuiltStore> {
  if (spec === undefined || spec.kind === 'local' || spec.url === undefined) return { close: async () => {} };
  const { log, metrics } = inputs;
  const { connectValkey } = await import('./valkey-connection.ts');
  const connection = connectValkey({ ...spec, url: spec.url }, valkeySecrets(spec, inputs.env, inputs.readFile));
  // Where the buckets are, without credentials: the URL's host and port only.
  const where = (() => {
    const url = new URL(spec.url);
    return `${url.protocol}//${url.host}`;
  })();
  const shared = sharedTokenBuckets(connection, spec.keyPrefix);
  const store = failOpen({ take: shared.take, ping: connection.ping }, localTokenBuckets(), {
    timeoutMs: spec.timeoutMs,
    probeMs: spec.probeSeconds * 1000,
    onChange(state, reason) {
      metrics.rateLimitStoreShared(state === 'shared');
      if (state === 'local') {
        const cause = connection.lastError();
        log.log('warn', 'rate-limit store unreachable: limits fail open to this host\'s own buckets until it answers', {
          store: where,
          error: cause && cause !== reason ? `${reason} (connection: ${cause})` : reason,
          probeSeconds: spec.probeSeconds,
        });
      } else {
        log.log('info', 'rate-limit store answers again: limits are shared across the fleet', { store: where });
      }
    },
  });
  try {
    // The first connection (TCP, TLS, AUTH) may take longer than a take may; a second at most.
    await within(connection.connected().then(connection.ping), Math.max(1000, spec.timeoutMs));
    metrics.rateLimitStoreShared(true);
    log.log('info', 'rate limits are shared across the fleet', { store: where, cluster: spec.cluster });
  } catch (error) {
    store.startLocal(`at start-up: ${error instanceof Error ? error.message : String(error)}`);
  }
  return {
    store,
    async close() {
      store.close();
      await connection.close();
    },
  };
}

/** The AUTH token / RBAC password and the CA bundle that limits.store names, read through the inputs. */
export function valkeySecrets(spec: LimitStoreSpec, env: Record<string, string | undefined>, readFile: (file: string) => string): ValkeySecrets {
  let password: string | undefined;
  if (spec.passwordEnv !== undefined) {
    password = env[spec.passwordEnv];
    if (!password) throw new Error(`limits.store.passwordEnv: environment variable ${spec.passwordEnv} is not set`);
  } else if (spec.passwordFile !== undefined) {
    password = readInput(spec.passwordFile, 'passwordFile', readFile).trim();
    if (!password) throw new Error(`limits.store.passwordFile: ${spec.passwordFile} is empty`);
  }
  const ca = spec.caFile !== undefined ? readInput(spec.caFile, 'caFile', readFile) : undefined;
  return { ...(password !== undefined ? { password } : {}), ...(ca !== undefined ? { ca } : {}) };
}

function readInput(file: string, key: string, readFile: (file: string) => string): string {
  try {
    return readFile(file);
  } catch (error) {
    throw new Error(`limits.store.${key}: cannot read ${file} (${error instanceof Error ? error.message : String(error)})`);
  }
}
