// A small bounded cache of credentials that have already been verified, so the expensive checks
// (scrypt for passwords, a signature for JWTs) run once per credential rather than once per
// request: the MLflow client sends the same credential with every call. Entries expire at their
// own deadline (a token's exp, or a fixed time for passwords); when full, the oldest entry goes.
// Only successes are cached: a wrong credential is checked in full every time.

export interface VerifiedCache<T> {
  get(key: string, nowMs: number): T | undefined;
  set(key: string, value: T, expiresAtMs: number): void;
  size(): number;
}

export function verifiedCache<T>(maxEntries = 10_000): VerifiedCache<T> {
  const entries = new Map<string, { value: T; expiresAtMs: number }>();
  return {
    get(key, nowMs) {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.expiresAtMs <= nowMs) {
        entries.delete(key);
        return undefined;
      }
      return entry.value;
    },
    set(key, value, expiresAtMs) {
      entries.delete(key);
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(key, { value, expiresAtMs });
    },
    size: () => entries.size,
  };
}
