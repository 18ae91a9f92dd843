// The Application Load Balancer's own OIDC authentication: after signing the user in, the ALB adds
// `x-amzn-oidc-data`, a JWT it signs with ES256. Its header carries `kid`, `signer` (the ALB's ARN),
// `exp` and `iss`; its payload the identity provider's user claims. The public key is fetched by
// key id from the regional endpoint (https://public-keys.auth.elb.REGION.amazonaws.com/KID, a PEM).
//
// Checked here with WebCrypto directly rather than a JWT library, because the ALB pads its base64url
// segments with `=`, which strict JWT libraries refuse; the signature is over the segments exactly
// as sent. Only ES256 is accepted, only from the configured ALB, only unexpired. Keys never change
// for a key id, so they are kept; unknown ids are fetched once at a time, and a failed id is not
// retried for a minute, so forged key ids cannot make the gateway hammer the key endpoint.
import type { CompiledAlbOidc, CompiledAuth } from './directory.ts';
import { groupsFromClaim, identityFromClaims, type Identity } from './identity.ts';
import { verifiedCache } from './verified-cache.ts';
import { AuthProviderUnavailable, Unauthenticated } from '../errors.ts';

export const ALB_HEADER = 'x-amzn-oidc-data';
const KEY_ID = /^[A-Za-z0-9-]{1,128}$/;
const FAILED_KEY_RETRY_MS = 60_000;
const MAX_KEYS = 64;

export interface AlbVerifier {
  verify(headerValue: string, nowMs: number): Promise<Identity>;
}

/** `fetchWith`: how the public keys are fetched (with tracing, in a span). */
export function albVerifier(auth: CompiledAuth, alb: CompiledAlbOidc, fetchWith: typeof fetch = fetch): AlbVerifier {
  const refuse = (detail: string) => new Unauthenticated(auth.challenge, `alb-oidc: ${detail}`);
  const keys = albKeys(alb.keyEndpoint, refuse, fetchWith);
  const remembered = verifiedCache<Identity>(1000);

  return {
    async verify(value, nowMs) {
      const known = remembered.get(value, nowMs);
      if (known) return known;
      const parts = value.trim().split('.');
      if (parts.length !== 3) throw refuse('malformed header');
      const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
      const header = decodeJson(headerPart);
      const payload = decodeJson(payloadPart);
      if (!header || !payload) throw refuse('malformed header');
      if (header.alg !== 'ES256') throw refuse(`algorithm ${String(header.alg)} refused`);
      if (header.signer !== alb.albArn) throw refuse('signed by another load balancer');
      if (typeof header.kid !== 'string' || !KEY_ID.test(header.kid)) throw refuse('bad key id');
      if (typeof header.exp !== 'number' || header.exp * 1000 + alb.clockSkewSeconds * 1000 <= nowMs) throw refuse('expired');
      const signature = base64UrlBytes(signaturePart);
      // JWS ES256 signatures are r||s, 64 bytes (not DER).
      if (!signature || signature.byteLength !== 64) throw refuse('bad signature');
      const key = await keys.get(header.kid);
      const signed = new TextEncoder().encode(`${headerPart}.${payloadPart}`);
      const ok = await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, signature, signed);
      if (!ok) throw refuse('bad signature');
      const subject = payload[alb.subjectClaim];
      if (typeof subject !== 'string' || subject === '' || subject.length > 256) throw refuse(`no usable "${alb.subjectClaim}" claim`);
      const identity = identityFromClaims(subject, groupsFromClaim(payload[alb.groupsClaim]), 'alb-oidc', auth);
      remembered.set(value, identity, header.exp * 1000);
      return identity;
    },
  };
}

function albKeys(endpoint: string, refuse: (detail: string) => Error, fetchWith: typeof fetch) {
  const keys = new Map<string, Promise<CryptoKey>>();
  const failures = new Map<string, { at: number; error: unknown }>();
  return {
    get(kid: string): Promise<CryptoKey> {
      const known = keys.get(kid);
      if (known) return known;
      const failure = failures.get(kid);
      if (failure && Date.now() - failure.at < FAILED_KEY_RETRY_MS) return Promise.reject(failure.error);
      if (keys.size >= MAX_KEYS) keys.delete(keys.keys().next().value!);
      const pending = fetchKey(`${endpoint}/${kid}`, refuse, fetchWith).catch((error: unknown) => {
        keys.delete(kid);
        failures.set(kid, { at: Date.now(), error });
        if (failures.size > MAX_KEYS) failures.delete(failures.keys().next().value!);
        throw error;
      });
      keys.set(kid, pending);
      return pending;
    },
  };
}

async function fetchKey(url: string, refuse: (detail: string) => Error, fetchWith: typeof fetch): Promise<CryptoKey> {
  let response: Response;
  try {
    response = await fetchWith(url, { signal: AbortSignal.timeout(5000), redirect: 'error' });
  } catch (error) {
    throw new AuthProviderUnavailable(`alb-oidc: key fetch failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  // An unknown key id is a forged or foreign token, not an outage.
  if (response.status === 404 || response.status === 403) throw refuse('unknown key id');
  if (!response.ok) throw new AuthProviderUnavailable(`alb-oidc: key endpoint answered ${response.status}`);
  const pem = await response.text();
  const base64 = pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '').replace(/\s+/g, '');
  try {
    const der = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    return await crypto.subtle.importKey('spki', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  } catch {
    throw new AuthProviderUnavailable('alb-oidc: the key endpoint returned something that is not a P-256 public key');
  }
}

function base64UrlBytes(text: string): Uint8Array<ArrayBuffer> | undefined {
  const unpadded = text.replace(/=+$/, '');
  if (!/^[A-Za-z0-9_-]*$/.test(unpadded)) return undefined;
  const base64 = unpadded.replace(/-/g, '+').replace(/_/g, '/');
  try {
    return Uint8Array.from(atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4)), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function decodeJson(part: string): Record<string, unknown> | undefined {
  const bytes = base64UrlBytes(part);
  if (!bytes) return undefined;
  try {
    const value: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
