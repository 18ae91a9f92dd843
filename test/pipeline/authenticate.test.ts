import { describe, expect, test } from 'bun:test';
import { authenticate, hashApiKey } from '../../src/pipeline/authenticate.ts';
import { Unauthenticated } from '../../src/errors.ts';
import { rulesFrom } from '../support/rules.ts';

const KEY = 'k-0123456789abcdef0123';
const OLD_KEY = 'k-old-0123456789abcdef';
const base = `version: 1
backend: {url: "http://127.0.0.1:5000"}
clients:
  - {id: ci, apiKeySha256: ["${hashApiKey(KEY)}", "${hashApiKey(OLD_KEY)}"], policies: [p]}
policies:
  p: {operations: [GetRun]}
`;
const rules = rulesFrom(base);
const withAnonymous = rulesFrom(`${base}anonymous: {policies: [p]}\n`);
const headers = (h: Record<string, string>) => new Headers(h);

describe('API keys', () => {
  const accepted: Array<[string, Record<string, string>]> = [
    ['as a Bearer token (what MLFLOW_TRACKING_TOKEN sends)', { authorization: `Bearer ${KEY}` }],
    ['with a lower-case scheme', { authorization: `bearer ${KEY}` }],
    ['as X-API-Key', { 'x-api-key': KEY }],
    ['an older key of the same client, during rotation', { authorization: `Bearer ${OLD_KEY}` }],
  ];
  for (const [sentence, h] of accepted) {
    test(`are accepted ${sentence}`, () => {
      expect(authenticate(headers(h), rules)).toMatchObject({ id: 'ci', authMethod: 'api-key' });
    });
  }

  const refused: Array<[string, Record<string, string>, typeof rules]> = [
    ['no credentials and no anonymous access', {}, rules],
    ['an unknown key', { authorization: 'Bearer nope-nope-nope' }, rules],
    ['an unknown key even when anonymous access exists', { authorization: 'Bearer nope-nope-nope' }, withAnonymous],
    ['Basic credentials (not configured)', { authorization: 'Basic dXNlcjpwYXNz' }, rules],
    ['an empty Bearer token', { authorization: 'Bearer ' }, rules],
    ['a hash sent in place of the key', { authorization: `Bearer ${hashApiKey(KEY)}` }, rules],
  ];
  for (const [sentence, h, r] of refused) {
    test(`are refused with 401 for ${sentence}`, () => {
      expect(() => authenticate(headers(h), r)).toThrow(Unauthenticated);
    });
  }

  test('a request without credentials is anonymous only when the rules name anonymous access', () => {
    expect(authenticate(headers({}), withAnonymous)).toMatchObject({ id: 'anonymous', authMethod: 'anonymous' });
  });

  test('the 401 answer is the same for unknown and malformed keys', () => {
    const attempts: Array<Record<string, string>> = [{ authorization: 'Bearer unknown-key-123' }, { authorization: 'Basic x' }, {}];
    const messages = attempts.map((h) => {
      try {
        authenticate(headers(h), rules);
      } catch (error) {
        return (error as Error).message;
      }
    });
    expect(new Set(messages).size).toBe(1);
  });
});
