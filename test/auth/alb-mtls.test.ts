// Client certificates through the ALB's mutual TLS (auth.albMtls), with certificates made by
// openssl for this file (test/support/certificates.ts): the good ones map to their clients, every
// bad one is a 401 whose audit reason says what was wrong, and without the section the headers
// mean nothing.
import { beforeAll, describe, expect, test } from 'bun:test';
import { createAuthenticator } from '../../src/pipeline/authenticate.ts';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { Unauthenticated } from '../../src/errors.ts';
import { explainClient } from '../../src/explain.ts';
import { problemsOf, rulesFrom } from '../support/rules.ts';
import { albUrlEncode, makeTestPki, verifyModeHeaders, type Issued, type TestPki } from '../support/certificates.ts';

const KEY = 'mtls-test-key-0123456789abcdef';
let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
});

const block = (pem: string, indent = 6) => pem.trim().split('\n').map((line) => `${' '.repeat(indent)}${line}`).join('\n');

function rulesYaml(albMtls: string | undefined, anonymous = false): string {
  return `version: 1
backend: {url: "http://127.0.0.1:5000"}
auth:
${albMtls ?? '  realm: MLflow'}
clients:
  - id: erp-batch
    certificates: [{subject: "${pki.client.subject}", issuer: "${pki.rootA.subject}"}]
    policies: [p]
  - id: spiffe-erp
    certificates: [{san: "URI:spiffe://example.com/erp", issuer: "${pki.rootB.subject}"}]
    policies: [p]
  - id: etl
    certificates: [{serial: "${pki.chained.serial}", issuer: "${pki.intermediate.subject}"}]
    policies: [p]
  - {id: ci, apiKeySha256: "${hashApiKey(KEY)}", policies: [p]}
${anonymous ? 'anonymous: {policies: [p]}\n' : ''}policies:
  p: {operations: [GetRun]}
`;
}
const verifyRules = () => rulesFrom(rulesYaml('  albMtls: {mode: verify}'));
const passthroughRules = (crl = true) =>
  rulesFrom(rulesYaml(`  albMtls:
    mode: passthrough
    caBundle: |
${block(pki.rootA.pem)}
${block(pki.intermediate.pem)}
${crl ? `    crl: |\n${block(pki.crlA)}` : ''}`));

const DAY = 86_400_000;
const chain = (...certs: Issued[]) => ({ 'X-Amzn-Mtls-Clientcert': albUrlEncode(certs.map((c) => c.pem).join('')) });

/** The identity, or the 401's audit detail. */
async function outcome(rules: ReturnType<typeof rulesFrom>, headers: Record<string, string>, now = Date.now()): Promise<{ id?: string; authMethod?: string; refused?: string }> {
  try {
    const identity = await createAuthenticator(rules.auth, () => now).authenticate(new Headers(headers));
    return { id: identity.id, authMethod: identity.authMethod };
  } catch (error) {
    if (!(error instanceof Unauthenticated)) throw error;
    return { refused: error.detail };
  }
}

describe('verify mode: the ALB checked the chain; the gateway checks the dates and maps the certificate', () => {
  test('a certificate maps to the client whose subject it has (pinned to its issuer)', async () => {
    expect(await outcome(verifyRules(), verifyModeHeaders(pki.client))).toEqual({ id: 'erp-batch', authMethod: 'alb-mtls' });
  });

  test('a SAN from the leaf header maps, and the issuer pin keeps the same subject from another CA apart', async () => {
    // foreign has erp-batch's subject but rootB as issuer: the subject rule is pinned to rootA, the SAN rule to rootB.
    expect(await outcome(verifyRules(), verifyModeHeaders(pki.foreign))).toEqual({ id: 'spiffe-erp', authMethod: 'alb-mtls' });
  });

  test('a serial maps with its issuer', async () => {
    expect(await outcome(verifyRules(), verifyModeHeaders(pki.chained))).toEqual({ id: 'etl', authMethod: 'alb-mtls' });
  });

  test('every spelling of the header names is the same header (HTTP field names are case-insensitive)', async () => {
    const spelled = (transform: (name: string) => string) => Object.fromEntries(Object.entries(verifyModeHeaders(pki.client)).map(([n, v]) => [transform(n), v]));
    for (const transform of [(n: string) => n, (n: string) => n.toLowerCase(), (n: string) => n.toUpperCase(), (n: string) => n.replace(/[a-z]/g, (c, i) => (i % 2 ? c.toUpperCase() : c))]) {
      expect(await outcome(verifyRules(), spelled(transform))).toEqual({ id: 'erp-batch', authMethod: 'alb-mtls' });
    }
  });

  const refusals: Array<[string, () => Record<string, string>, RegExp, number?]> = [
    ['an expired certificate (validity header)', () => verifyModeHeaders(pki.expired), /certificate CN=erp-batch,O=Example,C=US expired on \d{4}-/],
    ['a certificate not valid yet', () => verifyModeHeaders(pki.notYetValid), /is not valid before \d{4}-/],
    ['a good certificate at a time past its notAfter', () => verifyModeHeaders(pki.client), /expired on/, 60 * DAY],
    ['a certificate no client lists', () => verifyModeHeaders(pki.stranger), /no client has this certificate \(subject CN=stranger,O=Example,C=US/],
    ['a malformed validity header', () => ({ ...verifyModeHeaders(pki.client), 'X-Amzn-Mtls-Clientcert-Validity': 'forever' }), /malformed validity header/],
    ['a missing issuer header', () => { const { 'X-Amzn-Mtls-Clientcert-Issuer': _, ...rest } = verifyModeHeaders(pki.client); return rest; }, /incomplete certificate headers \(no x-amzn-mtls-clientcert-issuer\)/],
    ['a leaf header of another certificate than the subject and serial headers name', () => ({ ...verifyModeHeaders(pki.client), 'X-Amzn-Mtls-Clientcert-Leaf': albUrlEncode(pki.stranger.pem) }), /the leaf header is not the certificate/],
    ['a leaf header that is not PEM', () => ({ ...verifyModeHeaders(pki.client), 'X-Amzn-Mtls-Clientcert-Leaf': 'not-a-certificate' }), /malformed certificate header/],
    ['a subject header that is not a DN', () => ({ ...verifyModeHeaders(pki.client), 'X-Amzn-Mtls-Clientcert-Subject': 'erp-batch' }), /malformed subject or issuer header/],
    ['a certificate and an API key at once', () => ({ ...verifyModeHeaders(pki.client), authorization: `Bearer ${KEY}` }), /two kinds of credentials/],
  ];
  for (const [sentence, headers, reason, ahead] of refusals) {
    test(`401 for ${sentence}, the reason in the audit detail`, async () => {
      const result = await outcome(verifyRules(), headers(), Date.now() + (ahead ?? 0));
      expect(result.refused).toMatch(/^alb-mtls: |two kinds/);
      expect(result.refused).toMatch(reason);
    });
  }

  test('the chain header of passthrough mode is not read in verify mode', async () => {
    expect(await outcome(verifyRules(), chain(pki.client))).toEqual({ refused: 'no credentials' });
  });
});

describe('passthrough mode: the gateway verifies the chain against caBundle and the CRL', () => {
  const good: Array<[string, () => Record<string, string>, string]> = [
    ['the leaf alone, issued by a CA of the bundle', () => chain(pki.client), 'erp-batch'],
    ['the leaf with its root (as clients often send)', () => chain(pki.client, pki.rootA), 'erp-batch'],
    ['a leaf issued by an intermediate, the intermediate sent along', () => chain(pki.chained, pki.intermediate), 'etl'],
    ['the chain fully percent-encoded (+=/ escaped too)', () => ({ 'x-amzn-mtls-clientcert': encodeURIComponent(pki.client.pem) }), 'erp-batch'],
  ];
  for (const [sentence, headers, client] of good) {
    test(`${sentence} → ${client}`, async () => {
      expect(await outcome(passthroughRules(), headers())).toEqual({ id: client, authMethod: 'alb-mtls' });
    });
  }

  test('without a bundle that holds the intermediate, the intermediate the client sends is what reaches the root', async () => {
    const rootOnly = rulesFrom(rulesYaml(`  albMtls:\n    mode: passthrough\n    caBundle: |\n${block(pki.rootA.pem)}`));
    expect(await outcome(rootOnly, chain(pki.chained, pki.intermediate))).toEqual({ id: 'etl', authMethod: 'alb-mtls' });
    expect((await outcome(rootOnly, chain(pki.chained))).refused).toMatch(/not issued by a trusted CA \(issuer CN=Example Issuing CA/);
    // Only a CA certificate can stand in the middle: a leaf the client sends along as "issuer" does not.
    expect((await outcome(rootOnly, chain(pki.chained, pki.client))).refused).toMatch(/not issued by a trusted CA/);
  });

  const refusals: Array<[string, () => Record<string, string>, RegExp, number?]> = [
    ['a certificate from another CA', () => chain(pki.foreign), /certificate CN=erp-batch,O=Example,C=US is not issued by a trusted CA \(issuer CN=Other Root CA/],
    ['a certificate from another CA, with that CA sent along', () => chain(pki.foreign, pki.rootB), /not issued by a trusted CA/],
    ['an expired certificate', () => chain(pki.expired), /expired on \d{4}-/],
    ['a certificate not valid yet', () => chain(pki.notYetValid), /not valid before/],
    ['a revoked certificate', () => chain(pki.revoked), /certificate CN=erp-batch,O=Example,C=US \(serial [0-9A-F]+\) is revoked by its CA's CRL/],
    ['any certificate of a CA whose CRL is past its nextUpdate', () => chain(pki.client), /the CRL of CN=Example Root CA,O=Example,C=US is past its nextUpdate/, 8 * DAY],
    ['a certificate no client lists', () => chain(pki.stranger), /no client has this certificate \(subject CN=stranger/],
    ['a header that is not PEM', () => ({ 'X-Amzn-Mtls-Clientcert': 'MIIB-garbage' }), /malformed certificate header/],
    ['a header with a broken percent-encoding', () => ({ 'X-Amzn-Mtls-Clientcert': `${albUrlEncode(pki.client.pem)}%E0%A4%A` }), /bad URL encoding/],
    ['a certificate block whose DER is cut short', () => ({ 'X-Amzn-Mtls-Clientcert': albUrlEncode(pki.client.pem.replace(/\n[A-Za-z0-9+/=]+\n-----END/, '\n-----END')) }), /malformed certificate header/],
    ['the header sent twice (joined into one value)', () => { const h = new Headers(chain(pki.client)); h.append('x-amzn-mtls-clientcert', albUrlEncode(pki.stranger.pem)); return Object.fromEntries(h); }, /malformed certificate header \(not PEM certificates alone\)/],
  ];
  for (const [sentence, headers, reason, ahead] of refusals) {
    test(`401 for ${sentence}, the reason in the audit detail`, async () => {
      const result = await outcome(passthroughRules(), headers(), Date.now() + (ahead ?? 0));
      expect(result.refused).toMatch(/^alb-mtls: /);
      expect(result.refused).toMatch(reason);
    });
  }

  test('verify-mode headers a client writes itself are not read in passthrough mode (anonymous stays anonymous)', async () => {
    const withAnonymous = rulesFrom(rulesYaml(`  albMtls:\n    mode: passthrough\n    caBundle: |\n${block(pki.rootA.pem)}`, true));
    expect(await outcome(withAnonymous, verifyModeHeaders(pki.client))).toEqual({ id: 'anonymous', authMethod: 'anonymous' });
  });
});

describe('without auth.albMtls the headers mean nothing', () => {
  test('a client sending the verify-mode or passthrough headers gets no identity from them', async () => {
    const off = rulesFrom(rulesYaml(undefined));
    expect(await outcome(off, verifyModeHeaders(pki.client))).toEqual({ refused: 'no credentials' });
    expect(await outcome(off, chain(pki.client))).toEqual({ refused: 'no credentials' });
    const offWithAnonymous = rulesFrom(rulesYaml(undefined, true));
    expect(await outcome(offWithAnonymous, { ...verifyModeHeaders(pki.client), ...chain(pki.client) })).toEqual({ id: 'anonymous', authMethod: 'anonymous' });
    expect(await outcome(off, { ...verifyModeHeaders(pki.client), authorization: `Bearer ${KEY}` })).toEqual({ id: 'ci', authMethod: 'api-key' });
  });
});

describe('check', () => {
  test('refuses what cannot work and names the key', () => {
    const problems = problemsOf(rulesYaml(`  albMtls:
    mode: passthrough
    caBundle: |
${block(pki.client.pem)}
    crl: |
${block(pki.crlA)}`).replace(`{serial: "${pki.chained.serial}", issuer: "${pki.intermediate.subject}"}`, `{serial: "${pki.chained.serial}"}`));
    expect(problems.join('\n')).toContain('auth.albMtls.caBundle: certificate 1 (CN=erp-batch,O=Example,C=US) is not a CA certificate');
    expect(problems.join('\n')).toContain('auth.albMtls.crl: CRL 1 is issued by CN=Example Root CA,O=Example,C=US, which is not a CA of caBundle');
    expect(problems.join('\n')).toContain('clients[2].certificates[0]: a serial number is unique only within its CA: add issuer');
  });

  test('passthrough without a bundle, verify with one, and two clients claiming one certificate are refused', () => {
    expect(problemsOf(rulesYaml('  albMtls: {mode: passthrough}')).join('\n')).toContain('auth.albMtls: passthrough mode needs caBundle');
    expect(problemsOf(rulesYaml(`  albMtls:\n    mode: verify\n    caBundle: |\n${block(pki.rootA.pem)}`)).join('\n')).toContain('auth.albMtls.caBundle: verify mode: the ALB checks the chain');
    const twice = rulesYaml('  albMtls: {mode: verify}').replace('  - {id: ci,', `  - {id: twin, certificates: [{subject: "${pki.client.subject}"}], policies: [p]}\n  - {id: ci,`);
    expect(problemsOf(twice).join('\n')).toContain('clients[3].certificates[0]: the same certificate subject already acts as client "erp-batch"');
  });

  test('a CRL that is not signed by the CA it names is refused', () => {
    // The CRL names rootA, but one bit of its signature is changed: rootA's key no longer verifies it.
    const der = Buffer.from(pki.crlA.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
    der[der.length - 1] = der.at(-1)! ^ 0x01;
    const tampered = `-----BEGIN X509 CRL-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END X509 CRL-----\n`;
    const problems = problemsOf(rulesYaml(`  albMtls:\n    mode: passthrough\n    caBundle: |\n${block(pki.rootA.pem)}\n    crl: |\n${block(tampered)}`));
    expect(problems.join('\n')).toContain('auth.albMtls.crl: CRL 1 is not signed by CN=Example Root CA,O=Example,C=US');
  });
});

test('explain --client shows which certificate signs in as the client, and how it is checked', () => {
  const lines = explainClient(passthroughRules(), 'etl').lines.join('\n');
  expect(lines).toMatch(/sign-in +1 client certificate match/);
  expect(lines).toContain(`certificate serial ${pki.chained.serial.replace(/^0+/, '')} issued by ${pki.intermediate.subject} (ALB mTLS passthrough: the gateway verifies the chain against 2 CA(s) and 1 CRL(s))`);
  const verify = explainClient(verifyRules(), 'erp-batch').lines.join('\n');
  expect(verify).toContain(`certificate subject ${pki.client.subject} issued by ${pki.rootA.subject} (ALB mTLS verify`);
});

test('check on the shipped example says certificates sign in, and how many matches the rules hold', () => {
  const run = Bun.spawnSync([process.execPath, 'src/main.ts', 'check', '--rules', 'examples/alb-mtls-verify.yaml'], { cwd: `${import.meta.dir}/../..`, env: { PATH: process.env.PATH ?? '' } });
  expect(run.exitCode).toBe(0);
  expect(run.stdout.toString()).toMatch(/sign-in +0 API key\(s\); 0 password\(s\); no JWT issuers; ALB OIDC off; ALB mTLS verify \(3 certificate match\(es\)\)/);
});
