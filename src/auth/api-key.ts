// API keys: what MLFLOW_TRACKING_TOKEN sends as `Authorization: Bearer <key>` (or `X-API-Key`).
// Stored as SHA-256 hashes and looked up by hash, so a stored key is never compared byte by byte
// and the timing of a miss says nothing about the keys there are. A key is high-entropy random
// text (`openssl rand -hex 32`), which is why one fast hash suffices here, unlike passwords.
import { sha256Hex } from '../runtime/hash.ts';
import type { CompiledAuth } from './directory.ts';
import type { Identity } from './identity.ts';
import { Unauthenticated } from '../errors.ts';

/** Hex SHA-256 of the key's UTF-8 bytes (Bun's native hasher on Bun: this runs on every request). */
export function hashApiKey(key: string): string {
  return sha256Hex(key);
}

export function verifyApiKey(key: string, auth: CompiledAuth, nowMs: number): Identity {
  const stored = auth.apiKeys.get(hashApiKey(key));
  if (!stored) throw new Unauthenticated(auth.challenge, 'api-key: unknown key');
  if (stored.expiresAtMs !== undefined && stored.expiresAtMs <= nowMs) {
    throw new Unauthenticated(auth.challenge, `api-key: expired key of client ${stored.identity.id}`);
  }
  return stored.identity;
}
