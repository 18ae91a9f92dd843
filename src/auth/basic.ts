// HTTP Basic: what MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD send, and what a browser
// prompts for. The user name is the client id; the password is checked against its scrypt hash.
//
// scrypt is deliberately slow and the MLflow client sends the password with every call, so a
// success is remembered (keyed by a keyed hash of user and password, never the password itself)
// for a few minutes. Failures are never remembered and always cost one full scrypt, for unknown
// users too (against a dummy hash), so the answer time does not reveal which user names exist.
// At most a couple of scrypt runs happen at once; the rest wait, which bounds memory (32 MiB each).
import { createHmac, randomBytes } from 'node:crypto';
import type { CompiledAuth } from './directory.ts';
import type { Identity } from './identity.ts';
import { verifyPassword, DEFAULT_SCRYPT, type ParsedHash } from './password.ts';
import { verifiedCache } from './verified-cache.ts';
import { Unauthenticated } from '../errors.ts';

const REMEMBER_MS = 5 * 60_000;
const MAX_CONCURRENT_SCRYPT = 2;

/** What unknown users are checked against: random, with the cost the stored hashes have. */
function dummyHash(auth: CompiledAuth): ParsedHash {
  const example = auth.passwords.values().next().value;
  return { params: example?.hash.params ?? DEFAULT_SCRYPT, salt: randomBytes(16), key: randomBytes(32) };
}

export function parseBasic(value: string): { username: string; password: string } | undefined {
  const match = /^Basic[ ]+([A-Za-z0-9+/]+=*)\s*$/i.exec(value);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export interface BasicVerifier {
  verify(username: string, password: string, nowMs: number): Promise<Identity>;
}

export function basicVerifier(auth: CompiledAuth): BasicVerifier {
  const cacheKeySecret = randomBytes(32);
  const remembered = verifiedCache<Identity>();
  const slots = semaphore(MAX_CONCURRENT_SCRYPT);
  const dummy = dummyHash(auth);
  return {
    async verify(username, password, nowMs) {
      const cacheKey = createHmac('sha256', cacheKeySecret).update(username).update('\0').update(password).digest('base64');
      const known = remembered.get(cacheKey, nowMs);
      if (known) return known;
      const stored = auth.passwords.get(username);
      const ok = await slots.run(() => verifyPassword(password, stored?.hash ?? dummy));
      if (!stored || !ok) throw new Unauthenticated(auth.challenge, stored ? `basic: wrong password for ${username}` : 'basic: unknown user');
      remembered.set(cacheKey, stored.identity, nowMs + REMEMBER_MS);
      return stored.identity;
    },
  };
}

function semaphore(size: number) {
  let running = 0;
  const waiting: Array<() => void> = [];
  return {
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (running >= size) await new Promise<void>((resolve) => waiting.push(resolve));
      running++;
      try {
        return await task();
      } finally {
        running--;
        waiting.shift()?.();
      }
    },
  };
}
