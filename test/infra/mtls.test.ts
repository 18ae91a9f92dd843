// The HTTPS listener's mutual TLS (-c mtls) and the rules' auth.albMtls, kept in agreement like
// the OIDC sign-in and auth.alb: verify mode gets a trust store from the CA bundle in S3 (and a
// CRL), passthrough mode none; every combination that would let a client's own X-Amzn-Mtls-*
// headers reach the gateway as if the load balancer had written them is refused.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, scratchTempDirs } from '../support/processes.ts';
import { API_KEY_SHA256, CERTIFICATE_ARN, cfnLint, EXISTING_VPC, nagFindings, removeSynthesized, resourcesOf, synth } from '../support/infra.ts';
import { makeTestPki, type TestPki } from '../support/certificates.ts';
import { Match } from '../../infra/lib/testing.ts';
import { checkMtlsAgainstRules, type MtlsSettings } from '../../infra/lib/mtls-trust-store.ts';

setDefaultTimeout(240_000);
afterAll(removeSynthesized);
const tempDir = scratchTempDirs();

const MLFLOW_ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/existing';
const BASE = { vpcId: EXISTING_VPC, mlflowArn: MLFLOW_ARN, apiKeySha256: API_KEY_SHA256, certificateArn: CERTIFICATE_ARN };
const SHIPPED = readFileSync(join(REPO, 'rules.yaml'), 'utf8');
const VERIFY = { mode: 'verify', caBundleS3Uri: 's3://corp-pki-example/mlflow/ca-bundle.pem', crlS3Uri: 's3://corp-pki-example/mlflow/root.crl' };
let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
});

/**
 * The shipped rules with auth.albMtls and a client that signs in with its certificate: synth runs
 * `check --strict` on the rules (issue 20), which warns about an albMtls section that no client's
 * certificate can use.
 */
function rulesFile(albMtls: string | undefined): string {
  const file = join(tempDir('rules'), 'rules.yaml');
  const certificateClient = '  - id: erp-batch\n    certificates:\n      - subject: CN=erp-batch,O=Example,C=US\n    policies: [log-runs]\n    rateLimit: {requestsPerSecond: 20, burst: 40}\n';
  writeFileSync(file, albMtls ? SHIPPED.replace('  realm: MLflow\n', `  realm: MLflow\n${albMtls}`).replace(/^clients:\n/m, `clients:\n${certificateClient}`) : SHIPPED);
  return file;
}
const verifyRules = () => rulesFile('  albMtls: {mode: verify}\n');
const passthroughRules = () => rulesFile(`  albMtls:\n    mode: passthrough\n    caBundle: |\n${pki.rootA.pem.trim().split('\n').map((l) => `      ${l}`).join('\n')}\n`);
const gatewayOf = (s: ReturnType<typeof synth>) => s.templates['MlflowProxy-GatewayTracking']!;

describe('verify mode', () => {
  test('a trust store from the CA bundle in S3, its CRL, and the HTTPS listener verifying against it', () => {
    const s = synth({ ...BASE, mtls: JSON.stringify(VERIFY), rulesFile: verifyRules() });
    const gateway = gatewayOf(s);
    gateway.hasResourceProperties('AWS::ElasticLoadBalancingV2::TrustStore', { CaCertificatesBundleS3Bucket: 'corp-pki-example', CaCertificatesBundleS3Key: 'mlflow/ca-bundle.pem' });
    gateway.hasResourceProperties('AWS::ElasticLoadBalancingV2::TrustStoreRevocation', {
      RevocationContents: [Match.objectLike({ S3Bucket: 'corp-pki-example', S3Key: 'mlflow/root.crl', RevocationType: 'CRL' })],
    });
    const trustStore = Object.keys(gateway.findResources('AWS::ElasticLoadBalancingV2::TrustStore'))[0]!;
    gateway.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Protocol: 'HTTPS',
      MutualAuthentication: { Mode: 'verify', TrustStoreArn: { 'Fn::GetAtt': [trustStore, 'TrustStoreArn'] }, IgnoreClientCertificateExpiry: false, AdvertiseTrustStoreCaNames: 'on' },
    });
    expect(cfnLint(s.outdir).filter((m) => m.Level === 'Error')).toEqual([]);
    expect(nagFindings(s.app).filter((f) => f.severity === 'error')).toEqual([]);
    expect(nagFindings(s.app, 'NIST.800.53.R5')).toEqual([]);
  });

  test('the CA bundle is required, and the values must be s3:// URIs', () => {
    expect(() => synth({ ...BASE, mtls: JSON.stringify({ mode: 'verify' }), rulesFile: verifyRules() })).toThrow(/mtls.caBundleS3Uri: verify mode needs the CA bundle/);
    expect(() => synth({ ...BASE, mtls: JSON.stringify({ mode: 'verify', caBundleS3Uri: 'https://example.com/ca.pem' }), rulesFile: verifyRules() })).toThrow(/mtls.caBundleS3Uri: expected s3:\/\/BUCKET\/KEY/);
    expect(() => synth({ ...BASE, mtls: JSON.stringify({ mode: 'optional' }), rulesFile: verifyRules() })).toThrow(/mtls.mode: expected verify or passthrough/);
  });
});

describe('passthrough mode', () => {
  test('the listener passes the chain on, with no trust store (the gateway verifies against the rules\' caBundle)', () => {
    const s = synth({ ...BASE, mtls: JSON.stringify({ mode: 'passthrough' }), rulesFile: passthroughRules() });
    const gateway = gatewayOf(s);
    gateway.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Protocol: 'HTTPS', MutualAuthentication: { Mode: 'passthrough' } });
    gateway.resourceCountIs('AWS::ElasticLoadBalancingV2::TrustStore', 0);
    expect(nagFindings(s.app).filter((f) => f.severity === 'error')).toEqual([]);
    expect(nagFindings(s.app, 'NIST.800.53.R5')).toEqual([]);
  });

  test('a trust store in passthrough mode is refused: nothing would use it', () => {
    expect(() => synth({ ...BASE, mtls: JSON.stringify({ mode: 'passthrough', caBundleS3Uri: VERIFY.caBundleS3Uri }), rulesFile: passthroughRules() })).toThrow(/passthrough mode has no trust store/);
  });
});

describe('the listener and the rules agree, or synth refuses', () => {
  test('without -c mtls the listener has no mutual authentication', () => {
    gatewayOf(synth({ ...BASE })).hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Protocol: 'HTTPS', MutualAuthentication: Match.absent() });
  });

  test('rules with auth.albMtls on a load balancer without mutual TLS (clients could write the headers themselves)', () => {
    expect(() => synth({ ...BASE, rulesFile: verifyRules() })).toThrow(/has auth.albMtls \(verify\), but the load balancer has no mutual TLS/);
  });

  test('mutual TLS on the listener without auth.albMtls in the rules', () => {
    expect(() => synth({ ...BASE, mtls: JSON.stringify(VERIFY) })).toThrow(/has no auth.albMtls: no certificate would sign anyone in/);
  });

  test('the two modes differ', () => {
    expect(() => synth({ ...BASE, mtls: JSON.stringify({ mode: 'passthrough' }), rulesFile: verifyRules() })).toThrow(/-c mtls mode passthrough, but .* has auth.albMtls.mode verify/);
  });

  test('never beside a listener that forwards plain HTTP: allowHttp with the certificate only redirects, without it mTLS has no HTTPS listener', () => {
    // With a certificate, port 80 answers every request with a redirect to HTTPS (issue 20, item 6):
    // nothing it receives, client-written X-Amzn-Mtls-* headers included, reaches a host.
    const s = synth({ ...BASE, allowHttp: 'true', mtls: JSON.stringify(VERIFY), rulesFile: verifyRules() });
    const listeners = resourcesOf(gatewayOf(s), 'AWS::ElasticLoadBalancingV2::Listener');
    expect(listeners.map((l) => [l.props.Port, l.props.DefaultActions.map((a: { Type: string }) => a.Type), l.props.MutualAuthentication?.Mode])).toEqual([
      [443, ['forward'], 'verify'],
      [80, ['redirect'], undefined],
    ]);
    expect(resourcesOf(gatewayOf(s), 'AWS::ElasticLoadBalancingV2::ListenerRule')).toEqual([]);
    expect(nagFindings(s.app, 'NIST.800.53.R5')).toEqual([]);
    // Without a certificate the plain-HTTP listener forwards, and there is no HTTPS listener to put mTLS on.
    const { certificateArn: _, ...noCertificate } = BASE;
    expect(() => synth({ ...noCertificate, allowHttp: 'true', mtls: JSON.stringify(VERIFY), rulesFile: verifyRules() })).toThrow(/-c mtls needs the HTTPS listener/);
    // Should the listeners change, a forwarding plain-HTTP listener beside the HTTPS one stays refused.
    const agreement = { rulesFile: 'rules.yaml', rulesMode: 'verify' as const, httpsListener: true };
    expect(() => checkMtlsAgainstRules(VERIFY as MtlsSettings, { ...agreement, plainHttpForwards: true })).toThrow(/beside a listener that forwards plain HTTP/);
    expect(() => checkMtlsAgainstRules(VERIFY as MtlsSettings, { ...agreement, plainHttpForwards: false })).not.toThrow();
  });
});
