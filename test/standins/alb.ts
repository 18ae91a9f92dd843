// TEST STAND-IN for an Application Load Balancer with OIDC authentication, which cannot be reached
// here. Two parts, as in AWS:
//  - the regional public-key endpoint: GET /<kid> → the PEM of the ES256 key with that id;
//  - the load balancer itself: a loopback proxy that, like an ALB after a user has signed in,
//    forwards each request to the gateway with a freshly signed `x-amzn-oidc-data` header
//    (header fields kid, alg, signer, iss, client, exp; user claims in the payload), replacing any
//    such header the client sent. Like the real ALB, its base64url segments carry `=` padding.
// Signed with WebCrypto (ECDSA P-256, raw r||s), independently of the gateway's checking code.

export interface AlbStandin {
  keyEndpoint: string;
  /** URL of the "load balancer": requests sent here reach the gateway with a signed header. */
  url: string;
  kid: string;
  sign(claims: Record<string, unknown>, overrides?: { signer?: string; alg?: string; expOffsetSeconds?: number; kid?: string }): Promise<string>;
  keyFetches(): number;
  /** Every header value the load balancer added (bearer credentials: tests check they are never logged). */
  issued(): string[];
  stop(): void;
}

const padded = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');

export async function startAlb(albArn: string, gatewayUrl: () => string, claims: Record<string, unknown>): Promise<AlbStandin> {
  const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey));
  const pem = `-----BEGIN PUBLIC KEY-----\n${Buffer.from(spki).toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END PUBLIC KEY-----\n`;
  const kid = crypto.randomUUID();
  let fetches = 0;
  const issued: string[] = [];

  const sign: AlbStandin['sign'] = async (payloadClaims, overrides = {}) => {
    const header = {
      typ: 'JWT',
      kid: overrides.kid ?? kid,
      alg: overrides.alg ?? 'ES256',
      iss: 'https://idp.example.com',
      client: 'standin-client',
      signer: overrides.signer ?? albArn,
      exp: Math.floor(Date.now() / 1000) + (overrides.expOffsetSeconds ?? 120),
    };
    const encode = (value: unknown) => padded(new TextEncoder().encode(JSON.stringify(value)));
    const signingInput = `${encode(header)}.${encode(payloadClaims)}`;
    const signature = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey, new TextEncoder().encode(signingInput)));
    return `${signingInput}.${padded(signature)}`;
  };

  const keys = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(request) {
      fetches++;
      const requested = new URL(request.url).pathname.slice(1);
      return requested === kid ? new Response(pem) : new Response('not found', { status: 404 });
    },
  });
  const balancer = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 120,
    async fetch(request) {
      const incoming = new URL(request.url);
      const headers = new Headers(request.headers);
      const data = await sign(claims);
      issued.push(data);
      headers.set('x-amzn-oidc-data', data);
      headers.set('x-amzn-oidc-identity', String(claims.sub ?? ''));
      headers.delete('host');
      const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.arrayBuffer();
      const upstream = await fetch(`${gatewayUrl()}${incoming.pathname}${incoming.search}`, { method: request.method, headers, body, redirect: 'manual', decompress: false } as RequestInit);
      return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
    },
  });
  return {
    keyEndpoint: `http://127.0.0.1:${keys.port}`,
    url: `http://127.0.0.1:${balancer.port}`,
    kid,
    sign,
    keyFetches: () => fetches,
    issued: () => issued,
    stop: () => {
      keys.stop(true);
      balancer.stop(true);
    },
  };
}
