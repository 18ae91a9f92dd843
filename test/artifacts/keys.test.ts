import { describe, expect, test } from 'bun:test';
import { artifactPathFromRequestPath, childPrefixFor, keyFor, parseS3Root } from '../../src/artifacts/keys.ts';

const root = (uri: string) => {
  const parsed = parseS3Root(uri);
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.value;
};

describe('the artifact root is parsed from an s3:// URI', () => {
  const cases: Array<[string, { bucket: string; prefix: string; uri: string } | RegExp]> = [
    ['s3://bucket/prefix', { bucket: 'bucket', prefix: 'prefix', uri: 's3://bucket/prefix' }],
    ['s3://bucket/a/b/', { bucket: 'bucket', prefix: 'a/b', uri: 's3://bucket/a/b' }],
    ['s3://bucket', { bucket: 'bucket', prefix: '', uri: 's3://bucket' }],
    ['https://bucket/prefix', /not an s3/],
    ['s3://Bucket_Upper/x', /not a valid S3 bucket/],
    ['s3://bucket/a/../b', /ambiguous/],
    ['s3://bucket/a//b', /ambiguous/],
  ];
  for (const [uri, expected] of cases) {
    test(`${uri} → ${expected instanceof RegExp ? `refused (${expected.source})` : expected.uri}`, () => {
      const parsed = parseS3Root(uri);
      if (expected instanceof RegExp) expect(!parsed.ok && parsed.problem).toMatch(expected);
      else expect(parsed.ok && parsed.value).toEqual(expected);
    });
  }
});

describe('a key is the root prefix plus a safe relative path, and nothing else', () => {
  const r = root('s3://bucket/mlflow/root');
  const accepted: Array<[string, string]> = [
    ['1/abc/artifacts/model.pkl', 'mlflow/root/1/abc/artifacts/model.pkl'],
    ['1/abc/artifacts/dir with spaces/ünïcødé.txt', 'mlflow/root/1/abc/artifacts/dir with spaces/ünïcødé.txt'],
    ['a..b/c.d', 'mlflow/root/a..b/c.d'],
    ['', 'mlflow/root'],
  ];
  for (const [path, key] of accepted) test(`"${path}" → ${key}`, () => expect(keyFor(r, path)).toBe(key));
  const refused = ['../x', 'a/../../x', './x', 'a/./b', '/abs', 'a//b', 'a/', 'a\\..\\b', 'a\0b', 'a\nb', '..'];
  for (const path of refused) test(`${JSON.stringify(path)} is refused`, () => expect(() => keyFor(r, path)).toThrow());
  // A segment that percent-decodes (once, twice, ...) to a dot segment, a separator or a control
  // character: MLflow decodes until the path is stable before it checks one (mlflow/utils/uri.py
  // validate_path_is_safe, _decode), and so may any later reader of a stored location (issue 19).
  const encoded = ['a/%2e%2e/x', 'a/%2E%2E/x', 'a/%2E./x', 'a/.%2e/x', '%2e/x', 'a/%252e%252e/x', 'a/%25252E%25252E/x', 'a/%2e%252e/x',
    'a/..%2fx', 'a%2f..%2f..%2fx', 'a%5c..%5cx', 'a/%255c', 'a/%00', 'a/%2500b', 'a/%0a'];
  for (const path of encoded) test(`${JSON.stringify(path)}, an encoded dot segment, separator or control character, is refused`, () => expect(() => keyFor(r, path)).toThrow(/percent-encoded/));
  const literal: Array<[string, string]> = [['100%.txt', 'mlflow/root/100%.txt'], ['a%20b', 'mlflow/root/a%20b'], ['%2e%2ex', 'mlflow/root/%2e%2ex'], ['50%25off', 'mlflow/root/50%25off']];
  for (const [path, key] of literal) test(`"${path}" decodes to nothing ambiguous: kept as written, ${key}`, () => expect(keyFor(r, path)).toBe(key));
  test('the root at the top of a bucket needs no prefix', () => expect(keyFor(root('s3://bucket'), 'a/b')).toBe('a/b'));
  test('listing or deleting under a path uses "path/" so a sibling "pathfoo" is not included', () => {
    expect(childPrefixFor(r, '1/abc')).toBe('mlflow/root/1/abc/');
    expect(childPrefixFor(r, '')).toBe('mlflow/root/');
    expect(childPrefixFor(root('s3://bucket'), '')).toBe('');
  });
});

describe('artifact paths in request paths are decoded segment by segment and checked again', () => {
  const prefix = '/api/2.0/mlflow-artifacts/artifacts/';
  test('percent-encoded spaces and unicode decode', () => {
    expect(artifactPathFromRequestPath(`${prefix}1/a%20b/%C3%A9.txt`, prefix)).toBe('1/a b/é.txt');
  });
  const refused = [`${prefix}a/%2e%2e/b`, `${prefix}a%2fb`, `${prefix}%C3`, `${prefix}a/%00`, `${prefix}a%5cb`, '/other/path',
    `${prefix}a/%252e%252e/b`, `${prefix}a/%252E./b`, `${prefix}a/.%252e/b`, `${prefix}a/%25252e%25252e/b`, `${prefix}a%252f..%252fb`, `${prefix}a%255cb`];
  for (const path of refused) test(`${path} is refused`, () => expect(() => artifactPathFromRequestPath(path, prefix)).toThrow());
});
