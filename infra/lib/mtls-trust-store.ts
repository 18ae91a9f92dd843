// The HTTPS listener's mutual TLS (-c mtls='{"mode": ...}'), kept in agreement with the rules'
// auth.albMtls the way the OIDC sign-in is with auth.alb (gateway-stack.ts):
//   verify       the ALB checks each client certificate against a trust store made from a CA bundle
//                in S3 (caBundleS3Uri, optionally a CRL: crlS3Uri) and sends the X-Amzn-Mtls-Clientcert-*
//                headers; the rules must say auth.albMtls.mode: verify;
//   passthrough  the ALB asks for a certificate and passes the chain on unchecked; the rules must say
//                auth.albMtls.mode: passthrough, with the CA bundle in auth.albMtls.caBundle (the
//                gateway verifies), so there is no trust store.
// Refused: the rules trusting X-Amzn-Mtls-* headers that no listener of this ALB produces (a client
// could write them itself), mutual TLS without the HTTPS listener, and beside a listener that
// forwards plain HTTP (which would pass client-written headers to the same hosts). -c allowHttp with
// the certificate is accepted: port 80 then only redirects to HTTPS (load-balancer.ts), so what a
// client sends there never reaches a host.
import { Construct } from 'constructs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as s3 from 'aws-cdk-lib/aws-s3';

export interface MtlsSettings {
  mode: 'verify' | 'passthrough';
  /** verify: s3://BUCKET/KEY of the PEM CA bundle the trust store is made from. */
  caBundleS3Uri?: string;
  /** verify, optional: s3://BUCKET/KEY of a PEM or DER CRL of one of those CAs. */
  crlS3Uri?: string;
}

/** The `mtls` context value (JSON), or undefined when absent; problems are pushed as config.ts does. */
export function readMtlsSettings(raw: unknown, problems: string[]): MtlsSettings | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push('mtls: expected a JSON object {"mode": "verify", "caBundleS3Uri": "s3://BUCKET/KEY"} or {"mode": "passthrough"}');
    return undefined;
  }
  const { mode, caBundleS3Uri, crlS3Uri, ...rest } = raw as Record<string, unknown>;
  const before = problems.length;
  if (Object.keys(rest).length) problems.push(`mtls: unknown key(s) ${Object.keys(rest).join(', ')}; known: mode, caBundleS3Uri, crlS3Uri`);
  if (mode !== 'verify' && mode !== 'passthrough') problems.push(`mtls.mode: expected verify or passthrough, got ${JSON.stringify(mode)}`);
  for (const [key, value] of [['caBundleS3Uri', caBundleS3Uri], ['crlS3Uri', crlS3Uri]] as const) {
    if (value !== undefined && (typeof value !== 'string' || !parseS3Uri(value))) problems.push(`mtls.${key}: expected s3://BUCKET/KEY, got ${JSON.stringify(value)}`);
  }
  if (mode === 'verify' && caBundleS3Uri === undefined) problems.push('mtls.caBundleS3Uri: verify mode needs the CA bundle the ALB\'s trust store is made from (s3://BUCKET/KEY of a PEM file)');
  if (mode === 'passthrough' && (caBundleS3Uri !== undefined || crlS3Uri !== undefined)) {
    problems.push('mtls: passthrough mode has no trust store (the ALB checks nothing); the gateway verifies against auth.albMtls.caBundle and crl in the rules');
  }
  if (mode === 'verify' && crlS3Uri !== undefined && caBundleS3Uri === undefined) problems.push('mtls.crlS3Uri: only with caBundleS3Uri');
  if (problems.length > before) return undefined;
  return { mode: mode as MtlsSettings['mode'], ...(caBundleS3Uri ? { caBundleS3Uri: caBundleS3Uri as string } : {}), ...(crlS3Uri ? { crlS3Uri: crlS3Uri as string } : {}) };
}

function parseS3Uri(uri: string): { bucket: string; key: string } | undefined {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/.exec(uri);
  return match ? { bucket: match[1]!, key: match[2]! } : undefined;
}

export interface MtlsAgreement {
  rulesFile: string;
  /** auth.albMtls.mode of the rules (rules-facts.ts); undefined without the section. */
  rulesMode: 'verify' | 'passthrough' | undefined;
  httpsListener: boolean;
  /** A listener forwards plain HTTP to the hosts (load-balancer.ts, plainHttpForwards). */
  plainHttpForwards: boolean;
}

/** Throws when the listener and the rules disagree (see the header comment). */
export function checkMtlsAgainstRules(settings: MtlsSettings | undefined, agreement: MtlsAgreement): void {
  const { rulesFile: file, rulesMode } = agreement;
  if (!settings) {
    if (rulesMode) {
      throw new Error(`${file} has auth.albMtls (${rulesMode}), but the load balancer has no mutual TLS (-c mtls='{"mode":"${rulesMode}",...}'): every X-Amzn-Mtls-* header reaching the gateway would be one a client wrote`);
    }
    return;
  }
  if (!agreement.httpsListener) throw new Error('-c mtls needs the HTTPS listener (-c certificateArn=...): mutual TLS is negotiated in the TLS handshake');
  if (agreement.plainHttpForwards) throw new Error('-c mtls beside a listener that forwards plain HTTP: it would pass client-written X-Amzn-Mtls-* headers to the same hosts');
  if (!rulesMode) throw new Error(`-c mtls turns on the listener's mutual TLS (${settings.mode}), but ${file} has no auth.albMtls: no certificate would sign anyone in. Add auth.albMtls with mode: ${settings.mode}`);
  if (rulesMode !== settings.mode) throw new Error(`-c mtls mode ${settings.mode}, but ${file} has auth.albMtls.mode ${rulesMode}: the gateway would read headers the load balancer does not send`);
}

/** The trust store (verify mode) and the listener's mutual-authentication settings. */
export class MtlsTrustStore extends Construct {
  readonly trustStore: elbv2.TrustStore | undefined;
  readonly mutualAuthentication: elbv2.MutualAuthentication;

  constructor(scope: Construct, id: string, settings: MtlsSettings) {
    super(scope, id);
    if (settings.mode === 'passthrough') {
      this.trustStore = undefined;
      this.mutualAuthentication = { mutualAuthenticationMode: elbv2.MutualAuthenticationMode.PASS_THROUGH };
      return;
    }
    const bundle = parseS3Uri(settings.caBundleS3Uri!)!;
    const bundleBucket = s3.Bucket.fromBucketName(this, 'CaBundleBucket', bundle.bucket);
    this.trustStore = new elbv2.TrustStore(this, 'TrustStore', { bucket: bundleBucket, key: bundle.key });
    if (settings.crlS3Uri) {
      const crl = parseS3Uri(settings.crlS3Uri)!;
      const crlBucket = crl.bucket === bundle.bucket ? bundleBucket : s3.Bucket.fromBucketName(this, 'CrlBucket', crl.bucket);
      new elbv2.TrustStoreRevocation(this, 'Revocation', {
        trustStore: this.trustStore,
        revocationContents: [{ revocationType: elbv2.RevocationType.CRL, bucket: crlBucket, key: crl.key }],
      });
    }
    this.mutualAuthentication = {
      mutualAuthenticationMode: elbv2.MutualAuthenticationMode.VERIFY,
      trustStore: this.trustStore,
      // An expired certificate is refused in the handshake; the gateway checks the validity header again.
      ignoreClientCertificateExpiry: false,
      // Clients choosing among several certificates are told which CAs are trusted.
      advertiseTrustStoreCaNames: true,
    };
  }
}
