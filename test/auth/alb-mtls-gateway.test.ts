// The whole pipeline (Elysia's app.handle) in front of a plain MLflow-like upstream that records
// what it receives: a client certificate signs in through either ALB mode, a bad one is a 401 with
// its reason in the audit line and never reaches the backend, and the X-Amzn-Mtls-* headers (in
// any spelling, with or without auth.albMtls) never reach the backend either.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { createApp } from '../../src/app.ts';
import { hashApiKey } from '../../src/auth/api-key.ts';
import type { AuditRecord } from '../../src/observability/audit.ts';
import { problemsOf, rulesFrom } from '../support/rules.ts';
import { albUrlEncode, makeTestPki, verifyModeHeaders, type TestPki } from '../support/certificates.ts';

const KEY = 'mtls-gateway-key-0123456789abcdef';
let pki: TestPki;
let upstream: ReturnType<typeof Bun.serve>;
let received: Headers[] = [];

beforeAll(() => {
  pki = makeTestPki();
  upstream = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(request) {
      received.push(request.headers);
      return Response.json({ run: { info: { run_id: '1' } } });
    },
  });
});
afterAll(() => upstream.stop(true));
beforeEach(() => {
  received = [];
});

const block = (pem: string) => pem.trim().split('\n').map((line) => `      ${line}`).join('\n');
const SECTIONS = {
  off: '  realm: MLflow',
  verify: '  albMtls: {mode: verify}',
  passthrough: () => `  albMtls:\n    mode: passthrough\n    caBundle: |\n${block(pki.rootA.pem)}\n    crl: |\n${block(pki.crlA)}`,
};

function gateway(auth: string, forwardHeaders = '') {
  const rules = rulesFrom(`version: 1
backend: {url: "http://127.0.0.1:${upstream.port}"${forwardHeaders}}
auth:
${auth}
clients:
  - id: erp-batch
    certificates: [{subject: "${pki.client.subject}", issuer: "${pki.rootA.subject}"}]
    policies: [p]
  - {id: ci, apiKeys: [{sha256: "${hashApiKey(KEY)}", expires: "2099-01-01"}], policies: [p]}
policies:
  p: {operations: [GetRun]}
`);
  const audit: AuditRecord[] = [];
  const app = createApp({ rules: () => rules, audit: { write: (record) => audit.push(record) } });
  const call = async (headers: Record<string, string> | Headers) => {
    const before = audit.length;
    const response = await app.handle(new Request('http://gateway.local/api/2.0/mlflow/runs/get?run_id=1', { headers }));
    await response.arrayBuffer();
    // The audit line is written once the body has been sent: wait for it, not for a time.
    for (let i = 0; audit.length === before && i < 1000; i++) await new Promise((resolve) => setImmediate(resolve));
    return { status: response.status, line: audit.at(-1)! };
  };
  return { call };
}

/** Every mTLS header of both modes, in the spellings a client might try (dashes in any case, underscores). */
function everySpelling(): Headers {
  const headers = new Headers();
  const all = { ...verifyModeHeaders(pki.client), 'X-Amzn-Mtls-Clientcert': albUrlEncode(pki.client.pem) };
  for (const [name, value] of Object.entries(all)) {
    headers.append(name.toUpperCase().replace(/-/g, '_'), value);
    headers.append(name.toLowerCase().replace(/-/g, '_'), value);
    headers.append(name.replace(/-/g, '_'), value);
  }
  return headers;
}
const mtlsNames = (headers: Headers) => [...headers.keys()].filter((name) => /^x[-_]amzn[-_]mtls/i.test(name));

describe('a client certificate signs in', () => {
  test('verify mode: 200 as its client, the audit line says alb-mtls, the backend gets none of the certificate headers', async () => {
    const { status, line } = await gateway(SECTIONS.verify).call(verifyModeHeaders(pki.client));
    expect(status).toBe(200);
    expect(line).toMatchObject({ clientId: 'erp-batch', authMethod: 'alb-mtls', decision: 'allowed' });
    expect(received).toHaveLength(1);
    expect(mtlsNames(received[0]!)).toEqual([]);
  });

  test('passthrough mode: the same, from the chain header', async () => {
    const { status, line } = await gateway(SECTIONS.passthrough()).call({ 'X-Amzn-Mtls-Clientcert': albUrlEncode(pki.client.pem + pki.rootA.pem) });
    expect(status).toBe(200);
    expect(line).toMatchObject({ clientId: 'erp-batch', authMethod: 'alb-mtls', decision: 'allowed' });
    expect(mtlsNames(received[0]!)).toEqual([]);
  });
});

describe('a bad certificate is a 401 with its reason in the audit line, and nothing reaches the backend', () => {
  const cases: Array<[string, 'verify' | 'passthrough', () => Record<string, string>, RegExp]> = [
    ['expired (verify)', 'verify', () => verifyModeHeaders(pki.expired), /^alb-mtls: certificate CN=erp-batch,O=Example,C=US expired on /],
    ['not yet valid (verify)', 'verify', () => verifyModeHeaders(pki.notYetValid), /^alb-mtls: certificate .* is not valid before /],
    ['unknown (verify)', 'verify', () => verifyModeHeaders(pki.stranger), /^alb-mtls: no client has this certificate/],
    ['from another CA (passthrough)', 'passthrough', () => ({ 'X-Amzn-Mtls-Clientcert': albUrlEncode(pki.foreign.pem) }), /^alb-mtls: certificate .* is not issued by a trusted CA/],
    ['revoked (passthrough)', 'passthrough', () => ({ 'X-Amzn-Mtls-Clientcert': albUrlEncode(pki.revoked.pem) }), /^alb-mtls: certificate .* is revoked by its CA's CRL/],
    ['expired (passthrough)', 'passthrough', () => ({ 'X-Amzn-Mtls-Clientcert': albUrlEncode(pki.expired.pem) }), /^alb-mtls: certificate .* expired on /],
  ];
  for (const [sentence, mode, headers, reason] of cases) {
    test(sentence, async () => {
      const { status, line } = await gateway(mode === 'verify' ? SECTIONS.verify : SECTIONS.passthrough()).call(headers());
      expect(status).toBe(401);
      expect(line).toMatchObject({ decision: 'unauthenticated', status: 401 });
      expect(line.reason).toMatch(reason);
      expect(line.clientId).toBeUndefined();
      expect(received).toEqual([]);
    });
  }
});

describe('without auth.albMtls the headers are ignored and not forwarded', () => {
  test('a client sending them in every spelling is who its API key says, and the backend sees none of them', async () => {
    const headers = everySpelling();
    for (const [name, value] of Object.entries(verifyModeHeaders(pki.client))) headers.set(name, value);
    headers.set('x-amzn-mtls-clientcert', albUrlEncode(pki.client.pem));
    headers.set('authorization', `Bearer ${KEY}`);
    expect(mtlsNames(headers)).toHaveLength(12); // Headers folds case: six underscore names, six dashed
    const { status, line } = await gateway(SECTIONS.off).call(headers);
    expect(status).toBe(200);
    expect(line).toMatchObject({ clientId: 'ci', authMethod: 'api-key' });
    expect(received).toHaveLength(1);
    expect(mtlsNames(received[0]!)).toEqual([]);
  });

  test('without any other credential they are no credential at all (401 "no credentials")', async () => {
    const { status, line } = await gateway(SECTIONS.off).call(verifyModeHeaders(pki.client));
    expect(status).toBe(401);
    expect(line.reason).toBe('no credentials');
    expect(received).toEqual([]);
  });

  test('with the section on, the underscore spellings are not read and not forwarded either', async () => {
    const headers = everySpelling();
    headers.set('authorization', `Bearer ${KEY}`);
    const { status, line } = await gateway(SECTIONS.verify).call(headers);
    expect(status).toBe(200);
    expect(line).toMatchObject({ clientId: 'ci', authMethod: 'api-key' });
    expect(mtlsNames(received[0]!)).toEqual([]);
  });
});

test('backend.forwardHeaders cannot pass an mTLS header on, in any spelling', () => {
  for (const name of ['X-Amzn-Mtls-Clientcert', 'x-amzn-mtls-clientcert-subject', 'X_AMZN_MTLS_CLIENTCERT_LEAF', 'x-amzn-mtls-clientcert-serial-number']) {
    const problems = problemsOf(`version: 1
backend: {url: "http://127.0.0.1:1", forwardHeaders: ["${name}"]}
clients: [{id: ci, apiKeys: [{sha256: "${hashApiKey(KEY)}", expires: "2099-01-01"}], policies: [p]}]
policies: {p: {operations: [GetRun]}}
`);
    expect(problems.join('\n')).toContain(`backend.forwardHeaders[0]: ${name} cannot be forwarded from a client: the ALB's client-certificate headers`);
  }
});
