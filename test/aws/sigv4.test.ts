import { describe, expect, test } from 'bun:test';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';
import {
  SIGV4_SUITE_CREDENTIALS,
  SIGV4_SUITE_REGION,
  SIGV4_SUITE_SERVICE,
  SIGV4_SUITE_SIGNING_DATE,
  SIGV4_VECTORS,
} from './sigv4-vectors.ts';
import { amzDate, canonicalQuery, canonicalUri, sha256Hex, sign } from '../../src/aws/sigv4.ts';
import { checkUnambiguousPath } from '../../src/pipeline/rewrite.ts';

const scope = { region: SIGV4_SUITE_REGION, service: SIGV4_SUITE_SERVICE };

describe("AWS's published SigV4 test vectors", () => {
  for (const vector of SIGV4_VECTORS) {
    const { request } = vector;
    const wirePath = request.target.split('?')[0]!;
    if (vector.name === 'get-slash-dot-slash') {
      test(`${vector.name}: the gateway refuses dot segments before signing, so it never signs one`, () => {
        expect(() => checkUnambiguousPath(wirePath, '', { maxPathLength: 2048, maxQueryLength: 2048 })).toThrow();
      });
      continue;
    }
    test(`${vector.name} gives the published canonical request, string to sign and Authorization`, () => {
      const headers: Array<[string, string]> = request.headers.map(([name, value]) => [name, value]);
      if (vector.sessionToken) headers.push(['X-Amz-Security-Token', vector.sessionToken]);
      const query = canonicalQuery(request.rawQuery);
      expect(query).toBeDefined();
      const signature = sign(
        { method: request.method, path: wirePath, query: query!, headers, payloadHash: sha256Hex(request.body) },
        { ...SIGV4_SUITE_CREDENTIALS, ...(vector.sessionToken ? { sessionToken: vector.sessionToken } : {}) },
        scope,
        SIGV4_SUITE_SIGNING_DATE,
      );
      expect(signature.canonicalRequest).toBe(vector.canonicalRequest);
      expect(signature.stringToSign).toBe(vector.stringToSign);
      expect(signature.authorization).toBe(vector.authorization);
    });
  }
});

describe('agreement with @smithy/signature-v4 on MLflow-shaped requests', () => {
  const smithy = (service: string) =>
    new SignatureV4({
      credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret/with+chars', sessionToken: 'token-1' },
      region: 'eu-central-1',
      service,
      sha256: Hash.bind(null, 'sha256'),
      applyChecksum: false,
    });

  const requests: Array<[string, string, string, string]> = [
    ['GET', '/api/2.0/mlflow/experiments/get-by-name', 'experiment_name=team%20a%20%2F%20churn', ''],
    ['GET', '/api/2.0/mlflow/experiments/get-by-name', 'experiment_name=%C3%BCber%20modell', ''],
    ['GET', '/api/2.0/mlflow/registered-models/search', 'max_results=10&filter=name%20%3D%20%27x%27&page_token=', ''],
    ['GET', '/api/2.0/mlflow/metrics/get-history', 'run_id=abc&metric_key=a&metric_key=b', ''],
    ['POST', '/api/2.0/mlflow/runs/log-metric', '', '{"run_id":"abc","key":"m","value":1.5,"timestamp":1,"step":0}'],
    ['DELETE', '/api/2.0/mlflow/registered-models/alias', 'name=my%20model&alias=champion', ''],
    ['GET', '/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/a%20b/%C3%A9.txt', '', ''],
    ['PATCH', '/api/3.0/mlflow/traces/tr-1/tags', '', '{"key":"k","value":"v"}'],
  ];
  for (const service of ['sagemaker-mlflow', 'sagemaker']) {
    for (const [method, path, query, body] of requests) {
      test(`${service}: ${method} ${path}${query ? `?${query}` : ''}`, async () => {
        const now = new Date('2026-11-26T10:00:00Z');
        const payloadHash = sha256Hex(body);
        const headers: Record<string, string> = {
          host: 'eu-central-1.experiments.sagemaker.aws',
          'x-amz-date': amzDate(now),
          'x-amz-content-sha256': payloadHash,
          'x-amz-security-token': 'token-1',
          'x-mlflow-sm-tracking-server-arn': 'arn:aws:sagemaker:eu-central-1:123456789012:mlflow-tracking-server/t',
          'content-type': 'application/json',
        };
        const queryObject: Record<string, string | string[]> = {};
        for (const [k, v] of new URLSearchParams(query)) {
          const existing = queryObject[k];
          queryObject[k] = existing === undefined ? v : Array.isArray(existing) ? [...existing, v] : [existing, v];
        }
        // smithy, like botocore, is given the path as sent on the wire and encodes it once more.
        const expected = await smithy(service).sign(
          { method, protocol: 'https:', hostname: headers.host!, path, query: queryObject, headers: { ...headers }, body },
          { signingDate: now },
        );
        const ours = sign(
          { method, path, query: canonicalQuery(query)!, headers: Object.entries(headers), payloadHash },
          { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret/with+chars', sessionToken: 'token-1' },
          { region: 'eu-central-1', service },
          now,
        );
        expect(ours.authorization).toBe(expected.headers.authorization as string);
      });
    }
  }
});

describe('query canonicalisation matches the AWS front end', () => {
  const cases: Array<[string, string, string]> = [
    ['`+` is a space, sent as %20 (MLflow form-encodes spaces)', 'experiment_name=a+b', 'experiment_name=a%20b'],
    ['keys are sorted, then values', 'b=2&a=2&a=1', 'a=1&a=2&b=2'],
    ['a key that prefixes another sorts first', 'a-b=1&a=2', 'a=2&a-b=1'],
    ['reserved characters are encoded upper-case', "f=name%20%3d%20'x'", 'f=name%20%3D%20%27x%27'],
    ['a literal plus stays a plus', 'v=1%2B1', 'v=1%2B1'],
    ['an empty value keeps its `=`', 'page_token=&a=1', 'a=1&page_token='],
    ['a key without `=` gets an empty value', 'flag', 'flag='],
    ['unreserved characters are left alone', 'k=AZaz09-_.~', 'k=AZaz09-_.~'],
    // Queries already canonical are answered as they are (sigv4.ts alreadyCanonical): the order check must hold.
    ['an already canonical query is itself', 'a=1&a=2&b=2', 'a=1&a=2&b=2'],
    ['equal keys are sorted by value', 'a=2&a=1', 'a=1&a=2'],
    ['a prefix key before a longer one is already in order', 'a=2&a-b=1', 'a=2&a-b=1'],
    ['a repeated pair stays repeated', 'x=1&x=1', 'x=1&x=1'],
    ['one plain pair is itself', 'experiment_id=1', 'experiment_id=1'],
  ];
  for (const [sentence, raw, canonical] of cases) {
    test(sentence, () => {
      expect(canonicalQuery(raw)).toBe(canonical);
    });
  }

  test('malformed percent-encoding is refused (undefined)', () => {
    expect(canonicalQuery('a=%zz')).toBeUndefined();
  });

  test('an encoded path is encoded once more, as for every non-S3 service', () => {
    expect(canonicalUri('/a%20b/c')).toBe('/a%2520b/c');
    expect(canonicalUri('/api/2.0/mlflow/runs/get')).toBe('/api/2.0/mlflow/runs/get');
  });
});
