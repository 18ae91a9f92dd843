import { describe, expect, test } from 'bun:test';
import { createAuthenticator } from '../../src/pipeline/authenticate.ts';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { hashPassword, parsePasswordHash, verifyPassword } from '../../src/auth/password.ts';
import { parseBasic } from '../../src/auth/basic.ts';
import { Unauthenticated } from '../../src/errors.ts';
import { rulesFrom } from '../support/rules.ts';

const KEY = 'k-0123456789abcdef0123';
const OLD_KEY = 'k-old-0123456789abcdef';
const EXPIRED_KEY = 'k-expired-0123456789ab';
const PASSWORD = 'correct horse battery staple';
const passwordHash = await hashPassword(PASSWORD, { ln: 12, r: 8, p: 1 });
const base = `version: 1
backend: {url: "http://127.0.0.1:5000"}
clients:
  - {id: ci, apiKeySha256: ["${hashApiKey(KEY)}", "${hashApiKey(OLD_KEY)}"], policies: [p]}
  - id: old
    apiKeys: [{sha256: "${hashApiKey(EXPIRED_KEY)}", expires: "2001-01-01"}]
    policies: [p]
  - {id: alice, passwordHash: "${passwordHash}", policies: [p]}
policies:
  p: {operations: [GetRun]}
`;
const rules = rulesFrom(base);
const withAnonymous = rulesFrom(`${base}anonymous: {policies: [p]}\n`);
const headers = (h: Record<string, string>) => new Headers(h);
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const authenticator = createAuthenticator(rules.auth);
const anonymousAuthenticator = createAuthenticator(withAnonymous.auth);

describe('API keys', () => {
  const accepted: Array<[string, Record<string, string>]> = [
    ['as a Bearer token (what MLFLOW_TRACKING_TOKEN sends)', { authorization: `Bearer ${KEY}` }],
    ['with a lower-case scheme', { authorization: `bearer ${KEY}` }],
    ['as X-API-Key', { 'x-api-key': KEY }],
    ['an older key of the same client, during rotation', { authorization: `Bearer ${OLD_KEY}` }],
  ];
  for (const [sentence, h] of accepted) {
    test(`are accepted ${sentence}`, async () => {
      expect(await authenticator.authenticate(headers(h))).toMatchObject({ id: 'ci', authMethod: 'api-key' });
    });
  }
});

describe('HTTP Basic', () => {
  test('the client id and its password sign in (what MLFLOW_TRACKING_USERNAME/PASSWORD send)', async () => {
    expect(await authenticator.authenticate(headers({ authorization: basic('alice', PASSWORD) }))).toMatchObject({ id: 'alice', authMethod: 'basic' });
    // Remembered: the second time does not run scrypt again, and still answers the same identity.
    expect(await authenticator.authenticate(headers({ authorization: basic('alice', PASSWORD) }))).toMatchObject({ id: 'alice' });
  });

  test('a password with a colon in it is split at the first colon only', () => {
    expect(parseBasic(basic('bob', 'a:b:c'))).toEqual({ username: 'bob', password: 'a:b:c' });
  });

  test('hashes are salted (same password, different hash) and verify', async () => {
    const again = await hashPassword(PASSWORD, { ln: 12, r: 8, p: 1 });
    expect(again).not.toBe(passwordHash);
    const parsed = parsePasswordHash(again);
    expect(parsed.ok && (await verifyPassword(PASSWORD, parsed.value))).toBe(true);
    expect(parsed.ok && (await verifyPassword(`${PASSWORD}!`, parsed.value))).toBe(false);
  });
});

describe('refusals', () => {
  const refused: Array<[string, Record<string, string>, ReturnType<typeof createAuthenticator>]> = [
    ['no credentials and no anonymous access', {}, authenticator],
    ['an unknown key', { authorization: 'Bearer nope-nope-nope' }, authenticator],
    ['an unknown key even when anonymous access exists', { authorization: 'Bearer nope-nope-nope' }, anonymousAuthenticator],
    ['an expired key', { authorization: `Bearer ${EXPIRED_KEY}` }, authenticator],
    ['an empty Bearer token', { authorization: 'Bearer ' }, authenticator],
    ['a hash sent in place of the key', { authorization: `Bearer ${hashApiKey(KEY)}` }, authenticator],
    ['a wrong password', { authorization: basic('alice', 'wrong password!!') }, authenticator],
    ['an unknown user', { authorization: basic('mallory', PASSWORD) }, authenticator],
    ['a malformed Basic header', { authorization: 'Basic !!!' }, authenticator],
    ['an unknown scheme', { authorization: 'Digest username="x"' }, authenticator],
    ['a key and Basic at once', { authorization: basic('alice', PASSWORD), 'x-api-key': KEY }, authenticator],
    ['an ALB header when ALB authentication is off', { 'x-amzn-oidc-data': 'a.b.c' }, authenticator],
  ];
  for (const [sentence, h, which] of refused) {
    test(`401 for ${sentence}`, async () => {
      await expect(which.authenticate(headers(h))).rejects.toBeInstanceOf(Unauthenticated);
    });
  }

  test('a request without credentials is anonymous only when the rules name anonymous access', async () => {
    expect(await anonymousAuthenticator.authenticate(headers({}))).toMatchObject({ id: 'anonymous', authMethod: 'anonymous' });
  });

  test('the 401 answer is the same whatever went wrong; only the log detail differs', async () => {
    const attempts = refused.map(([, h, which]) => which.authenticate(headers(h)).then(() => undefined, (error: Unauthenticated) => error));
    const errors = await Promise.all(attempts);
    expect(new Set(errors.map((e) => e?.message)).size).toBe(1);
    expect(new Set(errors.map((e) => e?.headers['www-authenticate'])).size).toBe(1);
    expect(errors[0]!.headers['www-authenticate']).toBe('Basic realm="MLflow", charset="UTF-8", Bearer realm="MLflow"');
    expect(new Set(errors.map((e) => e?.detail)).size).toBeGreaterThan(5);
  });
});
