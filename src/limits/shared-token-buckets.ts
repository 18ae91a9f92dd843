// Token buckets kept in Valkey / Redis, so a fleet of gateways shares one bucket per identity (and
// per address for failed sign-ins): with N hosts a client gets its limit, not N times it.
//
// One Lua script per take does the refill, the take and the expiry inside the server, atomically
// (scripts run one at a time: https://valkey.io/topics/eval-intro/, "Script atomicity"), so two
// hosts taking the last token at once cannot both succeed. The clock is the server's (TIME), not
// each host's: the buckets stay right when hosts' clocks drift apart. Since Redis 5 / Valkey, scripts
// are replicated by their effects, so a non-deterministic TIME is allowed in a script that writes.
// A bucket carries no information once it would be full again (burst / rate seconds after its last
// take), so its key expires then: idle identities cost no memory.
//
// One key per script call: valid on a cluster (ElastiCache Serverless is cluster-mode only), where a
// script may only touch keys of one hash slot.
import type { RateLimit } from '../auth/identity.ts';
import type { RateLimitStore, TakeResult } from './rate-limiter.ts';

/** KEYS[1] = the bucket; ARGV = requests per second, burst. Returns {1, 0} or {0, retry-after ms}. */
export const TOKEN_BUCKET_LUA = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(saved[1])
local at = tonumber(saved[2])
if tokens == nil or at == nil then
  tokens = burst
else
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
end
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return {allowed, retry}
`;

/** What the store needs from a connection: the script above run on one key (EVALSHA, EVAL when the server lacks it). */
export interface BucketScriptRunner {
  runTokenBucket(key: string, requestsPerSecond: number, burst: number): Promise<unknown>;
}

export function sharedTokenBuckets(runner: BucketScriptRunner, keyPrefix: string): RateLimitStore {
  return {
    async take(key: string, limit: RateLimit): Promise<TakeResult> {
      const reply = await runner.runTokenBucket(keyPrefix + key, limit.requestsPerSecond, limit.burst);
      if (!Array.isArray(reply) || reply.length !== 2) throw new Error(`unexpected token-bucket reply: ${JSON.stringify(reply)}`);
      return Number(reply[0]) === 1 ? { ok: true } : { ok: false, retryAfterMs: Number(reply[1]) };
    },
  };
}
