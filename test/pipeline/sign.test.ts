// The SageMaker signer builds the fixed part of its signatures once per backend (pipeline/sign.ts
// sageMakerSigner) and writes only what changes per request into the canonical request: it must
// sign exactly as the general signer (aws/sigv4.ts sign, checked against AWS's published vectors
// and @smithy/signature-v4 in test/aws/sigv4.test.ts) does for the same headers.
import { describe, expect, test } from 'bun:test';
import { sageMakerSigner, type UnsignedRequest } from '../../src/pipeline/sign.ts';
import { sagemakerBackend } from '../../src/backends/sagemaker.ts';
import { amzDate, canonicalQuery, EMPTY_SHA256, sha256Hex, sign, type AwsCredentials } from '../../src/aws/sigv4.ts';

const backendOf = (arn: string) => {
  const parsed = sagemakerBackend(arn);
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.value;
};
const BACKENDS = {
  'a tracking server': backendOf('arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/team'),
  'an MLflow App': backendOf('arn:aws:sagemaker:us-east-1:123456789012:mlflow-app/app-ABCDEF123456'),
};
const CREDENTIALS: Record<string, AwsCredentials> = {
  'long-term keys': { accessKeyId: 'AKIAEXAMPLE000000001', secretAccessKey: 'secret/one+example0000000000000000000000' },
  'a session token': { accessKeyId: 'ASIAEXAMPLE000000002', secretAccessKey: 'secret/two+example0000000000000000000000', sessionToken: 'FwoGZXIvYXdzEJr//////////wEaDH+token=' },
};
const body = new TextEncoder().encode('{"run_id":"abc","key":"m","value":1.5}');
const REQUESTS: Array<[string, UnsignedRequest]> = [
  ['a GET with a query to sort and + to read as a space', { method: 'GET', path: '/api/2.0/mlflow/experiments/search', query: 'max_results=10&filter=name+LIKE+%27a%25%27&a=1', headers: [['accept', '*/*']], body: undefined }],
  ['a POST with a JSON body and Content-Type', { method: 'POST', path: '/api/2.0/mlflow/runs/log-metric', query: '', headers: [['content-type', 'application/json'], ['user-agent', 'mlflow-python-client/3.17.2']], body }],
  ['a Content-Type with spaces to fold', { method: 'POST', path: '/api/2.0/mlflow/runs/create', query: '', headers: [['content-type', '  application/json;   charset=utf-8 ']], body }],
  ['an encoded path, encoded once more', { method: 'GET', path: '/api/2.0/mlflow/artifacts/list%20me', query: 'path=a%2Fb', headers: [], body: undefined }],
  ['a DELETE with no body', { method: 'DELETE', path: '/api/2.0/mlflow/experiments/delete', query: '', headers: [['accept-encoding', 'gzip']], body: undefined }],
];

describe('the per-backend SageMaker signer agrees with the general signer', () => {
  for (const [backendName, backend] of Object.entries(BACKENDS)) {
    for (const [credentialName, credentials] of Object.entries(CREDENTIALS)) {
      for (const [name, request] of REQUESTS) {
        test(`${backendName}, ${credentialName}: ${name}`, () => {
          const now = new Date('2026-12-07T18:01:02Z');
          const outgoing = sageMakerSigner(backend)(request, credentials, now);
          const payloadHash = request.body ? sha256Hex(request.body) : EMPTY_SHA256;
          const toSign: Array<[string, string]> = [
            ['host', backend.host],
            ['x-amz-date', amzDate(now)],
            ['x-amz-content-sha256', payloadHash],
            [backend.routingHeader, backend.arn],
            ...(credentials.sessionToken ? [['x-amz-security-token', credentials.sessionToken] as [string, string]] : []),
            ...request.headers.filter(([n]) => n === 'content-type'),
          ];
          const expected = sign({ method: request.method, path: request.path, query: canonicalQuery(request.query)!, headers: toSign, payloadHash }, credentials, { region: backend.region, service: backend.signingName }, now);
          const sent = new Map(outgoing.headers);
          expect(sent.get('authorization')).toBe(expected.authorization);
          expect(outgoing.signedHeaders).toBe(expected.signedHeaders);
          // What was signed is what is sent, and every client header still goes.
          for (const [n, v] of toSign) expect(sent.get(n)).toBe(v);
          for (const [n, v] of request.headers) expect(sent.get(n)).toBe(v);
          expect(outgoing.headers).toHaveLength(new Set(outgoing.headers.map(([n]) => n)).size);
        });
      }
    }
  }
});
