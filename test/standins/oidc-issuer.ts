// TEST STAND-IN for an OpenID Connect issuer (Keycloak, Entra ID, Okta...), which cannot be reached
// here: it serves a discovery document and a JWKS, signs tokens, and rotates its signing key on
// demand (the JWKS then lists the new key and the previous one, as real issuers do during a
// rollover). Tokens are signed with jose's SignJWT; the forgeries the tests need are built by hand.
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload, type KeyObject, type CryptoKey } from 'jose';

type SigningKey = { kid: string; privateKey: CryptoKey | KeyObject; publicJwk: Record<string, unknown> };

export interface OidcIssuerStandin {
  issuer: string;
  port: number;
  /** How many times the JWKS was fetched (rotation makes the gateway fetch it again). */
  jwksFetches(): number;
  currentKid(): string;
  /** The current key's public JWK (a test forges an HMAC token with it). */
  publicJwk(): Record<string, unknown>;
  sign(claims: JWTPayload, options?: { expiresInSeconds?: number; kid?: string; notBeforeSeconds?: number }): Promise<string>;
  rotate(): Promise<void>;
  stop(): void;
}

let serial = 0;

async function newKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = `standin-key-${++serial}-${Date.now()}`;
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

export async function startOidcIssuer(): Promise<OidcIssuerStandin> {
  let keys: SigningKey[] = [await newKey()];
  let fetches = 0;
  let issuer = '';
  const server: ReturnType<typeof Bun.serve> = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(request): Response {
      const path = new URL(request.url).pathname;
      if (path === '/realms/corp/.well-known/openid-configuration') {
        return Response.json({ issuer, jwks_uri: `${issuer}/protocol/openid-connect/certs`, id_token_signing_alg_values_supported: ['RS256'] });
      }
      if (path === '/realms/corp/protocol/openid-connect/certs') {
        fetches++;
        return Response.json({ keys: keys.map((k) => k.publicJwk) });
      }
      return new Response('not found', { status: 404 });
    },
  });
  issuer = `http://127.0.0.1:${server.port}/realms/corp`;
  return {
    issuer,
    port: server.port!,
    jwksFetches: () => fetches,
    currentKid: () => keys[0]!.kid,
    publicJwk: () => keys[0]!.publicJwk,
    async sign(claims, options = {}) {
      const key = keys.find((k) => k.kid === (options.kid ?? keys[0]!.kid)) ?? keys[0]!;
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT({ iss: issuer, iat: now, exp: now + (options.expiresInSeconds ?? 600), ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? key.kid, typ: 'JWT' });
      if (options.notBeforeSeconds !== undefined) jwt.setNotBefore(now + options.notBeforeSeconds);
      return jwt.sign(key.privateKey);
    },
    async rotate() {
      keys = [await newKey(), keys[0]!];
    },
    stop: () => void server.stop(true),
  };
}
