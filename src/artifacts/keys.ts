// Where an artifact lives in S3: the configured root (`s3://bucket/prefix`) plus a relative artifact
// path, and nothing else. Every path that reaches S3 goes through here, so this file is the whole
// "only keys under the root" guarantee: a path is refused, never repaired, when it could mean more
// than one key (`..`, `.`, empty segments, backslashes, NUL and other control characters, absolute
// paths). MLflow's own server refuses the same shapes (mlflow/utils/uri.py validate_path_is_safe).
import { BadRequest } from '../errors.ts';

export interface S3Root {
  bucket: string;
  /** Key prefix without leading or trailing slash; '' for the bucket's top level. */
  prefix: string;
  /** `s3://bucket/prefix` (no trailing slash), as the tracking server writes locations. */
  uri: string;
}

// S3 bucket names: 3-63 lower-case letters, digits, dots and hyphens (AWS "Bucket naming rules").
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Parses `s3://bucket[/prefix]`; returns a problem sentence for anything else. */
export function parseS3Root(uri: string): { ok: true; value: S3Root } | { ok: false; problem: string } {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(uri.trim());
  if (!match) return { ok: false, problem: `"${uri}" is not an s3://bucket/prefix URI` };
  const bucket = match[1]!;
  if (!BUCKET.test(bucket)) return { ok: false, problem: `"${bucket}" is not a valid S3 bucket name` };
  const prefix = (match[2] ?? '').replace(/\/+$/, '');
  if (prefix !== '') {
    try {
      relativePathSegments(prefix);
    } catch (error) {
      return { ok: false, problem: `the prefix "${prefix}" is ambiguous: ${(error as Error).message}` };
    }
  }
  return { ok: true, value: { bucket, prefix, uri: prefix ? `s3://${bucket}/${prefix}` : `s3://${bucket}` } };
}

/**
 * Splits a decoded relative artifact path into its segments, refusing every ambiguous shape.
 * '' is the root itself (allowed for listing only; the caller decides).
 */
export function relativePathSegments(path: string): string[] {
  if (path === '') return [];
  if (path.startsWith('/')) throw new BadRequest('Artifact path must be relative (it starts with "/").');
  if (path.includes('\\')) throw new BadRequest('Artifact path contains "\\", which the gateway refuses.');
  if (CONTROL.test(path)) throw new BadRequest('Artifact path contains NUL or another control character.');
  const segments = path.split('/');
  for (const segment of segments) {
    if (segment === '') throw new BadRequest('Artifact path contains an empty segment ("//" or a trailing "/").');
    if (segment === '.' || segment === '..') throw new BadRequest('Artifact path contains a "." or ".." segment, which the gateway refuses.');
    if (segment.includes('%') && spellsAmbiguity(fullyDecoded(segment))) {
      throw new BadRequest('Artifact path contains a percent-encoded ".", "..", "/", "\\" or control character, which the gateway refuses.');
    }
  }
  return segments;
}

// A path is checked as written, but a later reader may decode it first: MLflow's server decodes a
// path until it is stable before checking it (mlflow/utils/uri.py validate_path_is_safe, _decode,
// at most 10 rounds), and a stored location meets more readers than this one. So a segment that
// decodes, once or more, to a dot segment, a separator or a control character is refused as well
// (issue 19: `%2e%2e` and its double encoding were accepted). Only ASCII escapes can spell those
// characters, so only they are decoded here; anything else stays as written.
const ASCII_ESCAPE = /%([0-7][0-9a-f])/gi;
const DECODE_ROUNDS = 10;

function fullyDecoded(segment: string): string | undefined {
  let current = segment;
  for (let round = 0; round < DECODE_ROUNDS; round++) {
    const next = current.replace(ASCII_ESCAPE, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    if (next === current) return current;
    current = next;
  }
  return undefined; // still changing after MLflow's bound: MLflow refuses it ("Failed to decode url"), so does the gateway
}

function spellsAmbiguity(decoded: string | undefined): boolean {
  if (decoded === undefined) return true;
  return decoded === '.' || decoded === '..' || decoded.includes('/') || decoded.includes('\\') || CONTROL.test(decoded);
}

/**
 * The relative artifact path in a request path after `routePrefix` (e.g. `/api/2.0/mlflow-artifacts/artifacts/`),
 * percent-decoded segment by segment. The rewrite stage has already refused encoded `/`, `.`, `\`
 * and NUL, so decoding cannot create a separator; the decoded result is checked again anyway.
 */
export function artifactPathFromRequestPath(requestPath: string, routePrefix: string): string {
  if (!requestPath.startsWith(routePrefix)) throw new BadRequest('Not an artifact path.');
  const raw = requestPath.slice(routePrefix.length);
  const segments = raw.split('/').map((segment) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw new BadRequest('Artifact path is not valid percent-encoded UTF-8.');
    }
    // An encoded "/" would join two segments into one key segment that the client did not send.
    if (decoded.includes('/')) throw new BadRequest('Artifact path contains an encoded "/", which the gateway refuses.');
    return decoded;
  });
  const decoded = segments.join('/');
  relativePathSegments(decoded);
  return decoded;
}

/** The S3 key of a relative artifact path under the root ('' → the root prefix itself). */
export function keyFor(root: S3Root, relativePath: string): string {
  const segments = relativePathSegments(relativePath);
  if (segments.length === 0) return root.prefix;
  const rest = segments.join('/');
  return root.prefix ? `${root.prefix}/${rest}` : rest;
}

/** The key prefix that lists or deletes "everything under" a relative path. */
export function childPrefixFor(root: S3Root, relativePath: string): string {
  const key = keyFor(root, relativePath);
  return key === '' ? '' : `${key}/`;
}
