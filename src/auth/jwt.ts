// JWT bearer tokens from OIDC issuers (what MLFLOW_TRACKING_TOKEN carries when it is a JWT), checked
// with `jose`: signature against the issuer's JWKS (found by discovery or configured), `iss` exactly,
// `aud` one of the configured audiences, `exp` required, `nbf`/`iat` with a small clock skew, and
// only the pinned asymmetric algorithms (so `alg: none` and HMAC-with-the-public-key forgeries fail).
// jose caches the JWKS and refetches it when a token names an unknown key id (rotation), at most
// once per cooldown. A verified token is remembered until its exp (at most 5 minutes), so the
// signature is checked once per token rather than once per request.
import { createRemoteJWKSet, customFetch, decodeJwt, errors, jwtVerify, type JWTPayload } from 'jose';
import type { CompiledAuth, CompiledJwtIssuer } from './directory.ts';
import { groupsFromClaim, identityFromClaims, type Identity } from './identity.ts';
import { verifiedCache } from './verified-cache.ts';
import { AuthProviderUnavailable, Unauthenticated } from '../errors.ts';

const REMEMBER_AT_MOST_MS = 5 * 60_000;
const DISCOVERY_RETRY_MS = 10_000;
const MAX_SUBJECT_LENGTH = 256;

/** Three base64url parts: what a compact JWS looks like (an API key never does). */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

export interface JwtVerifier {
  verify(token: string, nowMs: number): Promise<Identity>;
}

/** `fetchWith`: how the discovery document and the JWKS are fetched (with tracing, in a span). */
export function jwtVerifier(auth: CompiledAuth, fetchWith: typeof fetch = fetch): JwtVerifier {
  const issuers = new Map(auth.jwtIssuers.map((issuer) => [issuer.issuer, keySource(issuer, fetchWith)]));
  const remembered = verifiedCache<Identity>();

  return {
    async verify(token, nowMs) {
      const known = remembered.get(token, nowMs);
      if (known) return known;
      let claimedIssuer: string | undefined;
      try {
        claimedIssuer = decodeJwt(token).iss;
      } catch {
        throw new Unauthenticated(auth.challenge, 'jwt: malformed token');
      }
      const source = claimedIssuer !== undefined ? issuers.get(claimedIssuer) : undefined;
      if (!source) throw new Unauthenticated(auth.challenge, 'jwt: untrusted issuer');
      const { issuer } = source;
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, await source.keys(), {
          issuer: issuer.issuer,
          audience: issuer.audiences,
          algorithms: issuer.algorithms,
          clockTolerance: issuer.clockSkewSeconds,
          requiredClaims: ['exp'],
          currentDate: new Date(nowMs),
        }));
      } catch (error) {
        throw explainFailure(error, auth.challenge);
      }
      const subject = payload[issuer.subjectClaim];
      if (typeof subject !== 'string' || subject === '' || subject.length > MAX_SUBJECT_LENGTH) {
        throw new Unauthenticated(auth.challenge, `jwt: no usable "${issuer.subjectClaim}" claim`);
      }
      const identity = identityFromClaims(subject, groupsFromClaim(payload[issuer.groupsClaim]), 'jwt', auth);
      remembered.set(token, identity, Math.min(payload.exp! * 1000, nowMs + REMEMBER_AT_MOST_MS));
      return identity;
    },
  };
}

/** The issuer's keys: jose's remote JWKS, its URL configured or discovered once (retried after a failure). */
function keySource(issuer: CompiledJwtIssuer, fetchWith: typeof fetch) {
  let jwks: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  let failedAt = -Infinity;
  const make = (url: string) => createRemoteJWKSet(new URL(url), { cooldownDuration: issuer.jwksCooldownMs, timeoutDuration: 5000, [customFetch]: fetchWith });
  return {
    issuer,
    keys(): Promise<ReturnType<typeof createRemoteJWKSet>> {
      if (issuer.jwksUrl) return (jwks ??= Promise.resolve(make(issuer.jwksUrl)));
      if (!jwks && Date.now() - failedAt < DISCOVERY_RETRY_MS) {
        return Promise.reject(new AuthProviderUnavailable(`jwt: discovery for ${issuer.issuer} failed recently`));
      }
      jwks ??= discoverJwksUrl(issuer.issuer, fetchWith).then(make, (error: unknown) => {
        jwks = undefined;
        failedAt = Date.now();
        throw new AuthProviderUnavailable(`jwt: discovery for ${issuer.issuer} failed: ${error instanceof Error ? error.message : String(error)}`);
      });
      return jwks;
    },
  };
}

async function discoverJwksUrl(issuer: string, fetchWith: typeof fetch): Promise<string> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const response = await fetchWith(url, { signal: AbortSignal.timeout(5000), redirect: 'error' });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  const document = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
  // OpenID Connect Discovery §4.3: the document's issuer must be the one asked for.
  if (document.issuer !== issuer) throw new Error(`${url} names issuer ${String(document.issuer)}`);
  if (typeof document.jwks_uri !== 'string') throw new Error(`${url} has no jwks_uri`);
  return document.jwks_uri;
}

function explainFailure(error: unknown, challenge: string): Error {
  if (error instanceof AuthProviderUnavailable) return error;
  if (error instanceof errors.JWKSTimeout) return new AuthProviderUnavailable('jwt: JWKS fetch timed out');
  // jose's words for a JWKS endpoint that answered with an error status.
  if (error instanceof errors.JOSEError && error.code === 'ERR_JOSE_GENERIC' && /JSON Web Key Set/.test(error.message)) {
    return new AuthProviderUnavailable(`jwt: ${error.message}`);
  }
  if (error instanceof errors.JOSEError) {
    const claim = error instanceof errors.JWTClaimValidationFailed ? ` (${error.claim})` : '';
    return new Unauthenticated(challenge, `jwt: ${error.code}${claim}`);
  }
  // A network failure fetching the JWKS (TypeError from fetch) or a malformed JWKS answer.
  return new AuthProviderUnavailable(`jwt: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
}
