import { describe, expect, test } from 'bun:test';
import { parseS3Root } from '../../src/artifacts/keys.ts';
import {
  LOCATION_REQUEST_OPERATIONS,
  LOCATION_RESPONSE_OPERATIONS,
  rewriteRequestLocations,
  rewriteResponseLocations,
  toBackendLocation,
  toClientLocation,
} from '../../src/artifacts/locations.ts';
import { OPERATION_NAMES } from '../../src/rules/operations.ts';

const parsed = parseS3Root('s3://bucket/root');
if (!parsed.ok) throw new Error(parsed.problem);
const root = parsed.value;

describe('locations under the root are shown as mlflow-artifacts:/, others are left alone', () => {
  const cases: Array<[string, string | undefined]> = [
    ['s3://bucket/root/1/abc/artifacts', 'mlflow-artifacts:/1/abc/artifacts'],
    ['s3://bucket/root/1/models/m-1/artifacts', 'mlflow-artifacts:/1/models/m-1/artifacts'],
    ['s3://bucket/root', 'mlflow-artifacts:/'],
    ['s3://bucket/rootless/1', undefined],
    ['s3://other/root/1', undefined],
    ['runs:/abc/model', undefined],
    ['models:/m-123', undefined],
    ['/local/path', undefined],
  ];
  for (const [location, expected] of cases) test(`${location} → ${expected ?? 'unchanged'}`, () => expect(toClientLocation(root, location)).toBe(expected));
});

describe('locations under the root with an ambiguous path are never shown as mlflow-artifacts:/', () => {
  for (const stored of ['s3://bucket/root/1/%2e%2e/2', 's3://bucket/root/1/%252e%252e/2', 's3://bucket/root/../x', 's3://bucket/root/1/a\\..\\b', 's3://bucket/root/1//b']) {
    test(`${stored} stays as it is`, () => expect(toClientLocation(root, stored)).toBeUndefined());
  }
});

describe('mlflow-artifacts:/ locations sent back become S3 ones, checked like artifact paths', () => {
  // The request came to this gateway as Host: gateway:8080.
  const HOST = 'gateway:8080';
  const cases: Array<[string, string | undefined]> = [
    ['mlflow-artifacts:/1/abc/artifacts/model', 's3://bucket/root/1/abc/artifacts/model'],
    ['mlflow-artifacts:///1/abc', 's3://bucket/root/1/abc'],
    ['mlflow-artifacts://gateway:8080/1/abc/', 's3://bucket/root/1/abc'],
    ['mlflow-artifacts://GATEWAY:8080/1/abc', 's3://bucket/root/1/abc'],
    // MLflow reads the scheme case-insensitively and a path without its slash alike (urlparse).
    ['MLflow-Artifacts:/1/abc', 's3://bucket/root/1/abc'],
    ['mlflow-artifacts:1/abc', 's3://bucket/root/1/abc'],
    ['mlflow-artifacts:/', 's3://bucket/root'],
    ['runs:/abc/model', undefined],
    ['s3://bucket/root/1', undefined],
  ];
  for (const [location, expected] of cases) test(`${location} → ${expected ?? 'unchanged'}`, () => expect(toBackendLocation(root, location, HOST)).toBe(expected));
  const ambiguous = ['mlflow-artifacts:/../x', 'mlflow-artifacts:/a/../../x', 'mlflow-artifacts:/a//b',
    // Encoded dot segments, in every case and mix, once or more (issue 19: %2e%2e was accepted), and backslashes.
    'mlflow-artifacts:/1/%2e%2e/2', 'mlflow-artifacts:/1/%2E%2E/2', 'mlflow-artifacts:/1/%2E./2', 'mlflow-artifacts:/1/.%2e/2',
    'mlflow-artifacts:/%2e%2e', 'mlflow-artifacts:/1/%252e%252e/2', 'mlflow-artifacts:/1/%25252e%25252e/2', 'mlflow-artifacts:1/%2e%2e/2',
    'mlflow-artifacts://gateway:8080/1/%2e%2e/2', 'mlflow-artifacts:/1\\..\\2', 'mlflow-artifacts:/1/%5c..%5c2', 'mlflow-artifacts:/1/..%2f2',
    // What MLflow's urlparse reads as a query or fragment, which the S3 location would keep as key.
    'mlflow-artifacts:/1/a?x=../2', 'mlflow-artifacts:/1/a#/../2'];
  for (const bad of ambiguous) {
    test(`${bad} is refused`, () => expect(() => toBackendLocation(root, bad, HOST)).toThrow());
  }
  // MLflow sends the client to the authority's server for the artifacts (mlflow_artifacts_repo.py
  // resolve_uri: `uri_parse.netloc or track_parse.netloc`), with its tracking credentials; this
  // gateway's root is not that server's, so another host is refused, never dropped or kept.
  for (const other of ['mlflow-artifacts://other-host:5000/1/abc', 'mlflow-artifacts://gateway/1/abc', 'mlflow-artifacts://gateway:8081/1', 'MLFLOW-ARTIFACTS://evil.example/1', 'mlflow-artifacts://user:secret@gateway:8080/1']) {
    test(`${other} names another artifact server: refused, saying so`, () => {
      expect(() => toBackendLocation(root, other, HOST)).toThrow(/another artifact server|credentials/);
      expect(() => toBackendLocation(root, other, HOST)).not.toThrow(/secret/);
    });
  }
});

describe('only the operations that carry locations are parsed and rewritten', () => {
  test('every listed operation is a known MLflow operation', () => {
    for (const op of [...LOCATION_RESPONSE_OPERATIONS, ...LOCATION_REQUEST_OPERATIONS]) expect(OPERATION_NAMES).toContain(op);
  });

  const jsonResponse = (value: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(value), { headers: { 'content-type': 'application/json', ...headers } });

  test('a run (2.x and 3.x shape) gets its artifact_uri rewritten; tags and params are user data and stay', async () => {
    const run = { run: { info: { artifact_uri: 's3://bucket/root/1/r/artifacts' }, data: { tags: [{ key: 'source', value: 's3://bucket/root/x' }], params: [{ key: 'artifact_uri', value: 'p' }] } } };
    const out = await (await rewriteResponseLocations('GetRun', jsonResponse(run), root, 1 << 20)).json();
    expect(out.run.info.artifact_uri).toBe('mlflow-artifacts:/1/r/artifacts');
    expect(out.run.data.tags[0].value).toBe('s3://bucket/root/x');
  });

  test('the trace artifact-location tag is rewritten in both tag shapes; other tags stay', async () => {
    const v3 = { trace: { trace_info: { trace_id: 'tr-1', tags: { 'mlflow.artifactLocation': 's3://bucket/root/1/traces/tr-1/artifacts', other: 's3://bucket/root/x' } } } };
    const out3 = await (await rewriteResponseLocations('StartTraceV3', jsonResponse(v3), root, 1 << 20)).json();
    expect(out3.trace.trace_info.tags).toEqual({ 'mlflow.artifactLocation': 'mlflow-artifacts:/1/traces/tr-1/artifacts', other: 's3://bucket/root/x' });
    const v2 = { trace_info: { request_id: 'tr-2', tags: [{ key: 'mlflow.artifactLocation', value: 's3://bucket/root/1/traces/tr-2/artifacts' }, { key: 'k', value: 's3://bucket/root/y' }] } };
    const out2 = await (await rewriteResponseLocations('StartTrace', jsonResponse(v2), root, 1 << 20)).json();
    expect(out2.trace_info.tags).toEqual([{ key: 'mlflow.artifactLocation', value: 'mlflow-artifacts:/1/traces/tr-2/artifacts' }, { key: 'k', value: 's3://bucket/root/y' }]);
  });

  test('model versions in a search answer and a download URI are rewritten; the Content-Length follows', async () => {
    const answer = { model_versions: [{ source: 's3://bucket/root/1/r/artifacts/model' }, { source: 'models:/m-1' }] };
    const response = await rewriteResponseLocations('SearchModelVersions', jsonResponse(answer), root, 1 << 20);
    const text = await response.clone().text();
    expect(response.headers.get('content-length')).toBe(String(new TextEncoder().encode(text).byteLength));
    expect(JSON.parse(text).model_versions.map((v: { source: string }) => v.source)).toEqual(['mlflow-artifacts:/1/r/artifacts/model', 'models:/m-1']);
    const uri = await (await rewriteResponseLocations('GetModelVersionDownloadUri', jsonResponse({ artifact_uri: 's3://bucket/root/a' }), root, 1 << 20)).json();
    expect(uri.artifact_uri).toBe('mlflow-artifacts:/a');
  });

  test('other operations, compressed, non-JSON and over-cap answers pass unchanged', async () => {
    const body = { run: { info: { artifact_uri: 's3://bucket/root/1' } } };
    const expectUnchanged = async (response: Response) => expect((await response.json()).run.info.artifact_uri).toBe('s3://bucket/root/1');
    await expectUnchanged(await rewriteResponseLocations('LogMetric', jsonResponse(body), root, 1 << 20));
    await expectUnchanged(await rewriteResponseLocations('GetRun', jsonResponse(body), root, 10));
    const chunked = new Response(new Blob([JSON.stringify(body)]).stream(), { headers: { 'content-type': 'application/json' } });
    await expectUnchanged(await rewriteResponseLocations('GetRun', chunked, root, 10));
    const gzip = jsonResponse(body, { 'content-encoding': 'gzip' });
    expect(await rewriteResponseLocations('GetRun', gzip, root, 1 << 20)).toBe(gzip);
    const html = new Response('<html>s3://bucket/root/1</html>', { headers: { 'content-type': 'text/html' } });
    expect(await rewriteResponseLocations('GetRun', html, root, 1 << 20)).toBe(html);
  });

  test('an S3 location under the root sent back is checked the same way (it would be shown as mlflow-artifacts:/), others pass', () => {
    const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
    for (const location of ['s3://bucket/root/1/%2e%2e/2', 's3://bucket/root/../other', 'S3://bucket/root/1/%252E./2', 's3://bucket/root/1/a\\..\\b']) {
      expect(() => rewriteRequestLocations('CreateExperiment', encode({ name: 'e', artifact_location: location }), root, 'gw')).toThrow();
    }
    for (const location of ['s3://bucket/root/1/fine', 's3://other-bucket/../x', 's3://bucket/rootless/%2e%2e']) {
      const body = encode({ name: 'e', artifact_location: location });
      expect(rewriteRequestLocations('CreateExperiment', body, root, 'gw')).toBe(body);
    }
  });

  test('CreateModelVersion sends the S3 source; other requests keep their bytes', () => {
    const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
    const decoded = (bytes: Uint8Array | undefined) => JSON.parse(new TextDecoder().decode(bytes));
    const create = rewriteRequestLocations('CreateModelVersion', encode({ name: 'm', source: 'mlflow-artifacts:/1/r/artifacts/model' }), root, 'gw');
    expect(decoded(create).source).toBe('s3://bucket/root/1/r/artifacts/model');
    const other = encode({ key: 'source', value: 'mlflow-artifacts:/x' });
    expect(rewriteRequestLocations('SetTag', other, root, 'gw')).toBe(other);
    const notJson = new TextEncoder().encode('not json');
    expect(rewriteRequestLocations('CreateModelVersion', notJson, root, 'gw')).toBe(notJson);
  });
});
