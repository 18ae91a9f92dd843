// TEST STAND-IN: checks a SigV4-signed request the way an AWS front end does, using the `aws4`
// package (an implementation independent of src/aws/sigv4.ts). AWS endpoints cannot be reached
// here; test/standins/sagemaker_dataplane.py does the same with botocore for the end-to-end tests.
// @ts-expect-error aws4 ships no types
import aws4 from 'aws4';
import { createHash } from 'node:crypto';
import { standinSecret } from '../support/credentials.ts';

export interface Expectation {
  region: string;
  service: string;
  routingHeader: string;
  arn: string;
  maxSkewSeconds?: number;
}

export type Verdict = { ok: true; accessKeyId: string; signedHeaders: string[] } | { ok: false; reason: string };

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/;

export function verifySigV4(request: Request, rawUrl: string, body: Uint8Array, expect: Expectation, now = new Date()): Verdict {
  const authorization = request.headers.get('authorization') ?? '';
  const match = AUTH.exec(authorization);
  if (!match) return { ok: false, reason: 'missing or malformed Authorization' };
  const [, accessKeyId, day, region, service, signedList, signature] = match as unknown as string[];
  const signed = signedList!.split(';');
  if (region !== expect.region) return { ok: false, reason: `wrong region ${region}` };
  if (service !== expect.service) return { ok: false, reason: `wrong signing name ${service}` };
  const date = request.headers.get('x-amz-date') ?? '';
  if (!signed.includes('x-amz-date') || !date.startsWith(day!)) return { ok: false, reason: 'x-amz-date missing, unsigned or not the credential day' };
  const skew = Math.abs(now.getTime() - Date.parse(date.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z')));
  if (!(skew <= (expect.maxSkewSeconds ?? 300) * 1000)) return { ok: false, reason: 'clock skew' };
  if (!signed.includes('host')) return { ok: false, reason: 'host not signed' };
  if (!signed.includes(expect.routingHeader) || request.headers.get(expect.routingHeader) !== expect.arn) {
    return { ok: false, reason: 'routing header missing, unsigned or not the ARN' };
  }
  const payloadHash = request.headers.get('x-amz-content-sha256');
  if (!signed.includes('x-amz-content-sha256') || payloadHash !== createHash('sha256').update(body).digest('hex')) {
    return { ok: false, reason: 'x-amz-content-sha256 missing, unsigned or not the body hash' };
  }
  const temporary = accessKeyId!.startsWith('ASIA');
  const token = request.headers.get('x-amz-security-token');
  if (temporary && (!signed.includes('x-amz-security-token') || token !== `standin-token:${accessKeyId}`)) {
    return { ok: false, reason: 'session token missing, unsigned or wrong' };
  }
  const headers: Record<string, string> = {};
  for (const name of signed) {
    if (name === 'host') continue;
    const value = request.headers.get(name);
    if (value === null) return { ok: false, reason: `signed header ${name} not sent` };
    headers[name] = value;
  }
  const url = new URL(rawUrl);
  const signer = new aws4.RequestSigner(
    { host: request.headers.get('host'), method: request.method, path: rawUrl.slice(rawUrl.indexOf('/', url.protocol.length + 2)), service, region, headers, body: Buffer.from(body), doNotModifyHeaders: true },
    { accessKeyId, secretAccessKey: standinSecret(accessKeyId!), ...(token ? { sessionToken: token } : {}) },
  );
  signer.datetime = date;
  const expected: string = signer.authHeader();
  if (!expected.endsWith(`Signature=${signature}`)) return { ok: false, reason: 'signature mismatch' };
  return { ok: true, accessKeyId: accessKeyId!, signedHeaders: signed };
}
