// Stage 2, authenticate: who is calling. This version knows API keys (as `Authorization: Bearer`,
// which is what MLFLOW_TRACKING_TOKEN sends, or `X-API-Key`) and explicit anonymous access.
// Keys are stored as SHA-256 hashes; the lookup is by hash, so the secret is never compared
// byte by byte and the timing of a miss says nothing about a stored key.
import { createHash } from 'node:crypto';
import type { CompiledRules, Identity } from '../rules/compile.ts';
import { Unauthenticated } from '../errors.ts';

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Extracts the presented API key, if any. A non-Bearer Authorization counts as presented-but-wrong. */
export function presentedKey(headers: Headers): { key?: string; presented: boolean } {
  const authorization = headers.get('authorization');
  if (authorization !== null) {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
    return match ? { key: match[1]!, presented: true } : { presented: true };
  }
  const apiKey = headers.get('x-api-key');
  if (apiKey !== null) return { key: apiKey.trim(), presented: true };
  return { presented: false };
}

export function authenticate(headers: Headers, rules: CompiledRules): Identity {
  const { key, presented } = presentedKey(headers);
  if (!presented) {
    if (rules.anonymous) return rules.anonymous;
    throw new Unauthenticated('no credentials');
  }
  // Credentials that were presented but are wrong never fall back to anonymous access.
  const identity = key ? rules.apiKeys.get(hashApiKey(key)) : undefined;
  if (!identity) throw new Unauthenticated(key ? 'unknown API key' : 'unsupported Authorization scheme');
  return identity;
}
