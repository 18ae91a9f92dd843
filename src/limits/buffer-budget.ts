// One budget for the request-body bytes the gateway holds in memory at once (limits.maxBufferedBytes).
// A SageMaker-bound body is read whole to be hashed for SigV4 (http/read-body.ts), and a policy
// condition or a GraphQL document needs its body read too; each is capped per request
// (maxBodyBytes), but without a total, 20 concurrent 7.6 MiB uploads took the process from 57 to
// 380 MB and 20 × 50 MiB to 1.9 GB (issue 13 item 2): one authenticated writer could exhaust the
// host. Envoy bounds the same thing per connection (per_connection_buffer_limit_bytes) and
// answers 413/503 past it; here the bound is global, since memory is. A request that would pass
// it is refused before its body is read (503 with Retry-After: MLflow's client retries 503,
// honouring Retry-After), and its reservation is returned when the request has its answer.
import { BufferBudgetExhausted } from '../errors.ts';

export interface BufferBudget {
  /** A per-request reservation: bytes it reserves are returned together by release(). */
  lease(): BodyLease;
  /** Bytes reserved now, by all requests. */
  held(): number;
}

export interface BodyLease {
  /** Reserves `bytes` more for this request, or throws BufferBudgetExhausted (nothing reserved). */
  reserve(bytes: number): void;
  /** Returns everything this request reserved; idempotent. */
  release(): void;
}

/** `limit` is read at each reservation, so a reload that changes limits.maxBufferedBytes applies at once. */
export function bufferBudget(limit: () => number): BufferBudget {
  let held = 0;
  return {
    held: () => held,
    lease() {
      let mine = 0;
      return {
        reserve(bytes) {
          const max = limit();
          if (held + bytes > max) throw new BufferBudgetExhausted(`limits.maxBufferedBytes (${max}) reached: ${held} bytes held, ${bytes} more asked`);
          held += bytes;
          mine += bytes;
        },
        release() {
          held -= mine;
          mine = 0;
        },
      };
    },
  };
}
