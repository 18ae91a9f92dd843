// Every kind of credential through the whole pipeline (in-process), against an OIDC-issuer stand-in
// and an ALB stand-in: the good ones reach the upstream as the right client; each bad one gets 401
// (or 503 when the identity provider is down) and nothing reaches the upstream.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createHmac } from 'node:crypto';
import { createApp } from '../../src/app.ts';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { hashPassword } from '../../src/auth/password.ts';
import type { AuditRecord } from '../../src/observability/audit.ts';
import type { CompiledRules } from '../../src/rules/compile.ts';
import { rulesFrom } from '../support/rules.ts';
import { startOidcIssuer, type OidcIssuerStandin } from '../standins/oidc-issuer.ts';
import { startAlb, type AlbStandin } from '../standins/alb.ts';

const ALB_ARN = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/mlflow/50dc6c495c0c9188';
const OTHER_ALB = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/other/0123456789abcdef';
const KEY = 'ci-key-0123456789abcdef0123456789';
const EXPIRED_KEY = 'old-key-0123456789abcdef012345678';
const PASSWORD = 'alice password 0123';
const GET_RUN = '/api/2.0/mlflow/runs/get?run_id=1';

let upstream: ReturnType<typeof Bun.serve>;
let upstreamHits = 0;
let issuer: OidcIssuerStandin;
let alb: AlbStandin;
let rules: CompiledRules;
let rulesWithoutAlb: CompiledRules;
const audit: AuditRecord[] = [];

const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function call(which: CompiledRules, headers: Record<string, string>, path = GET_RUN) {
  const app = createApp({ rules: () => which, audit: { write: (record) => audit.push(record) } });
  return app.handle(new Request(`http://gateway${path}`, { headers }));
}

beforeAll(async () => {
  upstream = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch: () => {
      upstreamHits++;
      return Response.json({ run: {} });
    },
  });
  issuer = await startOidcIssuer();
  alb = await startAlb(ALB_ARN, () => 'http://127.0.0.1:1', { sub: 'alb-user-1', email: 'alice@example.com', groups: ['ds'] });
  const passwordHash = await hashPassword(PASSWORD, { ln: 12, r: 8, p: 1 });
  const yaml = (withAlb: boolean) => `version: 1
backend: {url: "http://127.0.0.1:${upstream.port}"}
auth:
  jwt:
    - issuer: ${issuer.issuer}
      audiences: [mlflow-gateway]
      jwksCooldownSeconds: 0
${withAlb ? `  alb: {albArn: "${ALB_ARN}", keyEndpoint: "${alb.keyEndpoint}", subjectClaim: email}\n` : ''}clients:
  - {id: ci, apiKeys: [{sha256: "${hashApiKey(KEY)}", expires: "2099-01-01"}], policies: [read]}
  - {id: old, apiKeys: [{sha256: "${hashApiKey(EXPIRED_KEY)}", expires: "2001-01-01"}], policies: [read]}
  - {id: alice, passwordHash: "${passwordHash}", subjects: [alice-sub, alice@example.com], policies: [read]}
groups:
  ds: {policies: [read]}
policies:
  read: {operations: [GetRun]}
`;
  rules = rulesFrom(yaml(true));
  rulesWithoutAlb = rulesFrom(yaml(false));
});

afterAll(() => {
  upstream?.stop(true);
  issuer?.stop();
  alb?.stop();
});

describe('good credentials reach the upstream as the right client', () => {
  const cases: Array<[string, () => Promise<Record<string, string>>, string, string]> = [
    ['an API key', async () => ({ authorization: `Bearer ${KEY}` }), 'ci', 'api-key'],
    ['HTTP Basic', async () => ({ authorization: basic('alice', PASSWORD) }), 'alice', 'basic'],
    ['a JWT whose subject is a client', async () => ({ authorization: `Bearer ${await issuer.sign({ sub: 'alice-sub', aud: 'mlflow-gateway' })}` }), 'alice', 'jwt'],
    ['a JWT of a group member', async () => ({ authorization: `Bearer ${await issuer.sign({ sub: 'bob', aud: 'mlflow-gateway', groups: ['ds', 'unknown'] })}` }), 'bob', 'jwt'],
    ['the ALB\'s x-amzn-oidc-data', async () => ({ 'x-amzn-oidc-data': await alb.sign({ sub: 'x', email: 'alice@example.com' }) }), 'alice', 'alb-oidc'],
  ];
  for (const [sentence, headers, clientId, method] of cases) {
    test(sentence, async () => {
      const before = upstreamHits;
      const response = await call(rules, await headers());
      expect(response.status).toBe(200);
      expect(upstreamHits).toBe(before + 1);
      expect(audit.at(-1)).toMatchObject({ clientId, authMethod: method, decision: 'allowed', policy: 'read' });
    });
  }

  test('a valid token that no client or group grants anything gets 403, not 401', async () => {
    const response = await call(rules, { authorization: `Bearer ${await issuer.sign({ sub: 'carol', aud: 'mlflow-gateway' })}` });
    expect(response.status).toBe(403);
    expect(audit.at(-1)).toMatchObject({ clientId: 'carol', decision: 'denied', wouldAllow: 'read (client ci, client old, client alice, group ds)' });
  });
});

describe('bad credentials: 401, and nothing reaches the upstream', () => {
  const forged = async (header: Record<string, unknown>, payload: Record<string, unknown>, sign: (input: string) => string) => {
    const input = `${b64url(header)}.${b64url(payload)}`;
    return `${input}.${sign(input)}`;
  };
  const claims = () => ({ iss: issuer.issuer, sub: 'alice-sub', aud: 'mlflow-gateway', exp: Math.floor(Date.now() / 1000) + 600 });

  const cases: Array<[string, () => Promise<Record<string, string>>, expectedReason: RegExp]> = [
    ['a wrong API key', async () => ({ authorization: 'Bearer wrong-key-0123456789abcdef' }), /api-key: unknown key/],
    ['an expired API key', async () => ({ authorization: `Bearer ${EXPIRED_KEY}` }), /api-key: expired key of client old/],
    ['a wrong password', async () => ({ authorization: basic('alice', 'not the password') }), /basic: wrong password for alice/],
    ['a tampered JWT (payload changed after signing)', async () => {
      const [h, , s] = (await issuer.sign({ sub: 'bob', aud: 'mlflow-gateway' })).split('.');
      return { authorization: `Bearer ${h}.${b64url({ ...claims(), sub: 'alice-sub' })}.${s}` };
    }, /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/],
    ['a JWT with alg: none', async () => ({ authorization: `Bearer ${await forged({ alg: 'none', typ: 'JWT' }, claims(), () => '')}` }), /ERR_JOSE_ALG_NOT_ALLOWED|ERR_JWS_INVALID/],
    ['a JWT for another audience', async () => ({ authorization: `Bearer ${await issuer.sign({ sub: 'alice-sub', aud: 'some-other-app' })}` }), /ERR_JWT_CLAIM_VALIDATION_FAILED \(aud\)/],
    ['an expired JWT', async () => ({ authorization: `Bearer ${await issuer.sign({ sub: 'alice-sub', aud: 'mlflow-gateway' }, { expiresInSeconds: -600 })}` }), /ERR_JWT_EXPIRED/],
    ['a JWT not valid before a future time', async () => ({ authorization: `Bearer ${await issuer.sign({ sub: 'alice-sub', aud: 'mlflow-gateway' }, { notBeforeSeconds: 600 })}` }), /ERR_JWT_CLAIM_VALIDATION_FAILED \(nbf\)/],
    ['a JWT naming an unknown key id', async () => ({ authorization: `Bearer ${await issuer.sign({ sub: 'alice-sub', aud: 'mlflow-gateway' }, { kid: 'no-such-key' })}` }), /ERR_JWKS_NO_MATCHING_KEY/],
    ['a JWT signed with HMAC using the issuer\'s public key as the secret', async () => {
      const secret = JSON.stringify(issuer.publicJwk());
      return { authorization: `Bearer ${await forged({ alg: 'HS256', typ: 'JWT', kid: issuer.currentKid() }, claims(), (input) => createHmac('sha256', secret).update(input).digest('base64url'))}` };
    }, /ERR_JOSE_ALG_NOT_ALLOWED/],
    ['a JWT from an untrusted issuer', async () => ({ authorization: `Bearer ${await forged({ alg: 'RS256', kid: 'x' }, { ...claims(), iss: 'https://evil.example.com' }, () => 'c2ln')}` }), /untrusted issuer/],
    ['an ALB header from another load balancer', async () => ({ 'x-amzn-oidc-data': await alb.sign({ email: 'alice@example.com' }, { signer: OTHER_ALB }) }), /signed by another load balancer/],
    ['an expired ALB header', async () => ({ 'x-amzn-oidc-data': await alb.sign({ email: 'alice@example.com' }, { expOffsetSeconds: -600 }) }), /alb-oidc: expired/],
    ['an ALB header with a tampered payload', async () => {
      const [h, , s] = (await alb.sign({ email: 'bob@example.com' })).split('.');
      return { 'x-amzn-oidc-data': `${h}.${b64url({ email: 'alice@example.com' })}.${s}` };
    }, /alb-oidc: bad signature/],
    ['an ALB header naming an unknown key', async () => ({ 'x-amzn-oidc-data': await alb.sign({ email: 'alice@example.com' }, { kid: crypto.randomUUID() }) }), /unknown key id/],
    ['an ALB header when ALB authentication is off', async () => ({ 'x-amzn-oidc-data': await alb.sign({ email: 'alice@example.com' }) }), /not enabled/],
  ];
  for (const [index, [sentence, headers, expectedReason]] of cases.entries()) {
    test(sentence, async () => {
      const which = index === cases.length - 1 ? rulesWithoutAlb : rules;
      const before = upstreamHits;
      const response = await call(which, await headers());
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toContain('Bearer realm="MLflow"');
      const body = await response.json();
      expect(body.error_code).toBe('UNAUTHENTICATED');
      expect(upstreamHits).toBe(before);
      expect(audit.at(-1)).toMatchObject({ decision: 'unauthenticated', status: 401 });
      expect(audit.at(-1)!.reason).toMatch(expectedReason);
    });
  }
});

describe('key rotation at the issuer', () => {
  test('a token signed with the new key is accepted after the JWKS is fetched again', async () => {
    const first = await call(rules, { authorization: `Bearer ${await issuer.sign({ sub: 'alice-sub', aud: 'mlflow-gateway', jti: 'before' })}` });
    expect(first.status).toBe(200);
    const fetchesBefore = issuer.jwksFetches();
    await issuer.rotate();
    const rotated = await call(rules, { authorization: `Bearer ${await issuer.sign({ sub: 'alice-sub', aud: 'mlflow-gateway', jti: 'after' })}` });
    expect(rotated.status).toBe(200);
    expect(issuer.jwksFetches()).toBe(fetchesBefore + 1);
  });
});

describe('failed sign-ins per client address (auth.failedSignInLimit)', () => {
  test('burst 3 allows exactly 3 failed sign-ins: the 4th attempt gets 429 before any check; other addresses and good keys elsewhere are unaffected', async () => {
    const guarded = rulesFrom(`version: 1
listen: {trustForwardedFor: true}
backend: {url: "http://127.0.0.1:${upstream.port}"}
auth: {failedSignInLimit: {requestsPerSecond: 0.01, burst: 3}}
clients:
  - {id: ci, apiKeys: [{sha256: "${hashApiKey(KEY)}", expires: "2099-01-01"}], policies: [read]}
policies:
  read: {operations: [GetRun]}
`);
    const app = createApp({ rules: () => guarded, audit: { write: (record) => audit.push(record) } });
    const from = (address: string, key: string) =>
      app.handle(new Request(`http://gateway${GET_RUN}`, { headers: { authorization: `Bearer ${key}`, 'x-forwarded-for': address } }));
    const statuses: number[] = [];
    const checksBefore = audit.length;
    for (let i = 0; i < 5; i++) statuses.push((await from('203.0.113.9', 'guess-0123456789abcdef')).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    expect(audit.slice(checksBefore).map((line) => line.decision)).toEqual(['unauthenticated', 'unauthenticated', 'unauthenticated', 'rate-limited', 'rate-limited']);
    const blocked = await from('203.0.113.9', KEY);
    expect(blocked.status).toBe(429); // even the right key: the address is paused, nothing is checked
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(1);
    expect(audit.at(-1)).toMatchObject({ decision: 'rate-limited', reason: 'too many failed sign-ins from 203.0.113.9' });
    expect((await from('198.51.100.7', KEY)).status).toBe(200);
  });
});

describe('a JWT in a single-sign-on cookie (auth.jwtCookie)', () => {
  let cookieRules: CompiledRules;
  beforeAll(() => {
    cookieRules = rulesFrom(`version: 1
backend: {url: "http://127.0.0.1:${upstream.port}"}
auth:
  jwtCookie: corp_sso
  jwt: [{issuer: "${issuer.issuer}", audiences: [mlflow-gateway]}]
clients:
  - {id: alice, subjects: [alice-sub], policies: [edit]}
policies:
  edit: {operations: [GetRun, UpdateExperiment]}
`);
  });
  const send = (method: string, path: string, headers: Record<string, string>) => {
    const app = createApp({ rules: () => cookieRules, audit: { write: (record) => audit.push(record) } });
    return app.handle(new Request(`http://gateway${path}`, { method, headers, ...(method === 'POST' ? { body: '{"experiment_id":"1","new_name":"x"}' } : {}) }));
  };
  const UPDATE = '/api/2.0/mlflow/experiments/update';

  test('signs the browser in as the token\'s subject, among other cookies', async () => {
    const cookie = `theme=dark; corp_sso=${await issuer.sign({ sub: 'alice-sub', aud: 'mlflow-gateway' })}`;
    expect((await send('GET', GET_RUN, { cookie })).status).toBe(200);
    expect(audit.at(-1)).toMatchObject({ clientId: 'alice', authMethod: 'jwt', decision: 'allowed' });
    expect((await send('POST', UPDATE, { cookie, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' })).status).toBe(200);
  });

  test('a write another site makes the browser send is refused before it reaches MLflow', async () => {
    const cookie = `corp_sso=${await issuer.sign({ sub: 'alice-sub', aud: 'mlflow-gateway' })}`;
    const hits = upstreamHits;
    for (const headers of [{ 'sec-fetch-site': 'cross-site' }, { origin: 'https://evil.example', host: 'gateway' }] as Array<Record<string, string>>) {
      const response = await send('POST', UPDATE, { cookie, 'content-type': 'application/json', ...headers });
      expect(response.status).toBe(401);
      expect(audit.at(-1)).toMatchObject({ decision: 'unauthenticated', reason: 'jwt-cookie: a write from another site (CSRF)' });
    }
    expect(upstreamHits).toBe(hits);
  });

  test('a forged or expired cookie gets the same 401 as any bad credential', async () => {
    const expired = await issuer.sign({ sub: 'alice-sub', aud: 'mlflow-gateway' }, { expiresInSeconds: -600 });
    expect((await send('GET', GET_RUN, { cookie: `corp_sso=${expired}` })).status).toBe(401);
    expect((await send('GET', GET_RUN, { cookie: 'corp_sso=not.a.jwt' })).status).toBe(401);
  });
});
