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

/**
 * A refusal says why (`reason`, for test assertions) and, for the AWS-style error a stand-in sends
 * back, which kind of problem it is (`code`): the Authorization header is malformed, the credential
 * scope (region, signing name, date) is wrong, the request is outside the clock-skew window, the
 * session token is wrong, or the signature (or body hash) does not match.
 */
export type Failure = { ok: false; reason: string; code?: 'malformed' | 'scope' | 'skew' | 'token' | 'mismatch' };
export type Verdict = { ok: true; accessKeyId: string; signedHeaders: string[] } | Failure;

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
  const tokenProblem = sessionTokenProblem(request, accessKeyId, signed);
  if (tokenProblem) return tokenProblem;
  return verifySignature(request, rawUrl, body, { region: expect.region, service: expect.service, maxSkewSeconds: expect.maxSkewSeconds ?? 300 }, now);
}

/**
 * An AWS API call (the SageMaker control plane, JSON 1.1): the same scope, skew, session-token and
 * signature checks as verifySigV4, but no routing header (the API endpoint serves every resource)
 * and no required payload-hash header (the SDK's JSON clients do not send one; aws4 then hashes the
 * body itself). A payload hash that is sent must still be the body's.
 */
export function verifyApiSigV4(
  request: Request,
  rawUrl: string,
  body: Uint8Array,
  expect: { region: string; service: string; maxSkewSeconds?: number },
  now = new Date(),
): Verdict {
  const parsed = parseAuthorization(request);
  if (!parsed.ok) return parsed;
  const payloadHash = request.headers.get('x-amz-content-sha256');
  if (payloadHash !== null && payloadHash !== createHash('sha256').update(body).digest('hex')) {
    return { ok: false, reason: 'x-amz-content-sha256 is not the body hash', code: 'mismatch' };
  }
  const tokenProblem = sessionTokenProblem(request, parsed.accessKeyId, parsed.signed);
  if (tokenProblem) return tokenProblem;
  return verifySignature(request, rawUrl, body, { region: expect.region, service: expect.service, maxSkewSeconds: expect.maxSkewSeconds ?? 300 }, now);
}

/** Temporary (ASIA) keys need their session token, signed: the stand-in token derived from the key id. */
function sessionTokenProblem(request: Request, accessKeyId: string, signed: string[]): Failure | undefined {
  const token = request.headers.get('x-amz-security-token');
  if (accessKeyId.startsWith('ASIA') && (!signed.includes('x-amz-security-token') || token !== `standin-token:${accessKeyId}`)) {
    return { ok: false, reason: 'session token missing, unsigned or wrong', code: 'token' };
  }
  return undefined;
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
  if (region !== expect.region) return { ok: false, reason: `wrong region ${region}`, code: 'scope' };
  if (service !== expect.service) return { ok: false, reason: `wrong signing name ${service}`, code: 'scope' };
  const date = request.headers.get('x-amz-date') ?? '';
  if (!signed.includes('x-amz-date') || !date.startsWith(day)) return { ok: false, reason: 'x-amz-date missing, unsigned or not the credential day', code: 'scope' };
  const skew = Math.abs(now.getTime() - Date.parse(date.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z')));
  if (!(skew <= expect.maxSkewSeconds * 1000)) return { ok: false, reason: 'clock skew', code: 'skew' };
  if (!signed.includes('host')) return { ok: false, reason: 'host not signed', code: 'malformed' };
  const headers: Record<string, string> = {};
  for (const name of signed) {
    if (name === 'host') continue;
    const value = request.headers.get(name);
    if (value === null) return { ok: false, reason: `signed header ${name} not sent`, code: 'mismatch' };
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
  if (!expected.endsWith(`Signature=${signature}`)) return { ok: false, reason: 'signature mismatch', code: 'mismatch' };
  return { ok: true, accessKeyId, signedHeaders: signed };
}

function parseAuthorization(request: Request):
  | { ok: true; accessKeyId: string; day: string; region: string; service: string; signed: string[]; signature: string }
  | Failure {
  const match = AUTH.exec(request.headers.get('authorization') ?? '');
  if (!match) return { ok: false, reason: 'missing or malformed Authorization', code: 'malformed' };
  const [, accessKeyId, day, region, service, signedList, signature] = match as unknown as string[];
  return { ok: true, accessKeyId: accessKeyId!, day: day!, region: region!, service: service!, signed: signedList!.split(';'), signature: signature! };
}
