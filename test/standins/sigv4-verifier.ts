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

/** SageMaker MLflow's checks: signing name and region from the ARN, routing header, body hash, token. */
export function verifySigV4(request: Request, rawUrl: string, body: Uint8Array, expect: Expectation, now = new Date()): Verdict {
  const parsed = parseAuthorization(request);
  if (!parsed.ok) return parsed;
  const { accessKeyId, signed } = parsed;
  if (!signed.includes(expect.routingHeader) || request.headers.get(expect.routingHeader) !== expect.arn) {
    return { ok: false, reason: 'routing header missing, unsigned or not the ARN' };
  }
  const payloadHash = request.headers.get('x-amz-content-sha256');
  if (!signed.includes('x-amz-content-sha256') || payloadHash !== createHash('sha256').update(body).digest('hex')) {
    return { ok: false, reason: 'x-amz-content-sha256 missing, unsigned or not the body hash' };
  }
  const token = request.headers.get('x-amz-security-token');
  if (accessKeyId.startsWith('ASIA') && (!signed.includes('x-amz-security-token') || token !== `standin-token:${accessKeyId}`)) {
    return { ok: false, reason: 'session token missing, unsigned or wrong' };
  }
  return verifySignature(request, rawUrl, body, { region: expect.region, service: expect.service, maxSkewSeconds: expect.maxSkewSeconds ?? 300 }, now);
}

/** The checks every AWS front end makes: scope, date and skew, and the signature itself (aws4). */
export function verifySignature(
  request: Request,
  rawUrl: string,
  body: Uint8Array,
  expect: { region: string; service: string; maxSkewSeconds: number },
  now = new Date(),
): Verdict {
  const parsed = parseAuthorization(request);
  if (!parsed.ok) return parsed;
  const { accessKeyId, day, region, service, signed, signature } = parsed;
  if (region !== expect.region) return { ok: false, reason: `wrong region ${region}` };
  if (service !== expect.service) return { ok: false, reason: `wrong signing name ${service}` };
  const date = request.headers.get('x-amz-date') ?? '';
  if (!signed.includes('x-amz-date') || !date.startsWith(day)) return { ok: false, reason: 'x-amz-date missing, unsigned or not the credential day' };
  const skew = Math.abs(now.getTime() - Date.parse(date.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z')));
  if (!(skew <= expect.maxSkewSeconds * 1000)) return { ok: false, reason: 'clock skew' };
  if (!signed.includes('host')) return { ok: false, reason: 'host not signed' };
  const headers: Record<string, string> = {};
  for (const name of signed) {
    if (name === 'host') continue;
    const value = request.headers.get(name);
    if (value === null) return { ok: false, reason: `signed header ${name} not sent` };
    headers[name] = value;
  }
  const token = request.headers.get('x-amz-security-token');
  const pathStart = rawUrl.indexOf('/', rawUrl.indexOf('://') + 3);
  const signer = new aws4.RequestSigner(
    { host: request.headers.get('host'), method: request.method, path: rawUrl.slice(pathStart), service, region, headers, body: Buffer.from(body), doNotModifyHeaders: true },
    { accessKeyId, secretAccessKey: standinSecret(accessKeyId), ...(token ? { sessionToken: token } : {}) },
  );
  signer.datetime = date;
  const expected: string = signer.authHeader();
  if (!expected.endsWith(`Signature=${signature}`)) return { ok: false, reason: 'signature mismatch' };
  return { ok: true, accessKeyId, signedHeaders: signed };
}

function parseAuthorization(request: Request):
  | { ok: true; accessKeyId: string; day: string; region: string; service: string; signed: string[]; signature: string }
  | { ok: false; reason: string } {
  const match = AUTH.exec(request.headers.get('authorization') ?? '');
  if (!match) return { ok: false, reason: 'missing or malformed Authorization' };
  const [, accessKeyId, day, region, service, signedList, signature] = match as unknown as string[];
  return { ok: true, accessKeyId: accessKeyId!, day: day!, region: region!, service: service!, signed: signedList!.split(';'), signature: signature! };
}
