// The resource ids and names a request carries, read from every place MLflow could take them
// (operation-resources.ts says where, and why all of them): the query and the JSON body, each field
// in both spellings (`run_id`, `runId`), every array element, every copy, a body double-encoded as a
// JSON string, path segments, headers. Pure: the request's parts in, the values (or a refusal) out.
//
// Failing closed is the rule: a body that is not JSON, a value that is an object where an id should
// be, a path segment that does not decode: the request is refused rather than guessed at, because
// MLflow might read it another way.
import type { Place, ResourceKind, ResourceRef } from './operation-resources.ts';
import { BadRequest } from '../errors.ts';
import { PROMPT_TAG } from './owners.ts';
import { otlpTraceIds } from './otlp-traces.ts';

export interface RequestParts {
  method: string;
  /** The raw query, without `?`. */
  query: string;
  /** The body as read from the client, when the request has one the upstream will get. */
  body?: Uint8Array;
  headers: Headers;
  /** The raw values of the route's placeholders (rules/operations.ts pathParams). */
  pathParams: ReadonlyArray<string>;
}

export interface FoundValue {
  kind: ResourceKind;
  value: string;
  /** Where it was found, for explain and the audit reason: `body runId`, `query run_id`, `path`. */
  from: string;
}

export type ReadValues = { ok: true; values: FoundValue[]; /** The body's `tags` make the registry entry it creates a prompt. */ promptTag: boolean } | { ok: false; error: BadRequest; missing?: false } | { ok: false; missing: true; kind: ResourceKind };

/** Whether the body must be read before deciding: a ref may be in it (a JSON parameter, an OTLP export's spans). */
export function refsReadBody(refs: ReadonlyArray<ResourceRef>): boolean {
  return refs.some((ref) => placesOf(ref).some((place) => typeof place === 'string' || 'otlp' in place));
}

/**
 * Every value of every ref, or why the request cannot be decided (unreadable, or a required ref
 * absent). The body is read as JSON only when a ref may be a JSON parameter: a route whose refs are
 * in its path, query or headers may carry any bytes (an artifact upload, an OTLP export).
 */
export function readValues(refs: ReadonlyArray<ResourceRef>, parts: RequestParts): ReadValues {
  const jsonBody = refs.some((ref) => placesOf(ref).some((place) => typeof place === 'string'));
  const parsed = jsonBody ? parseBody(parts.body) : ({ ok: true, json: undefined } as const);
  if (!parsed.ok) return { ok: false, error: parsed.error };
  const query = parts.query ? new URLSearchParams(parts.query) : undefined;
  const values: FoundValue[] = [];
  for (const ref of refs) {
    const before = values.length;
    for (const place of placesOf(ref)) {
      const problem = readPlace(ref.kind, place, parts, query, parsed.json, values);
      if (problem) return { ok: false, error: new BadRequest(problem) };
    }
    if (ref.required && values.length === before) return { ok: false, missing: true, kind: ref.kind };
  }
  const promptTag = refs.some((ref) => ref.kind === 'newModelName') && tagsMakeAPrompt(parsed.json);
  return { ok: true, values, promptTag };
}

function placesOf(ref: ResourceRef): ReadonlyArray<Place> {
  return Array.isArray(ref.at) ? ref.at : [ref.at as Place];
}

/** Adds what one place holds; returns a problem when it holds something that cannot be an id. */
function readPlace(kind: ResourceKind, place: Place, parts: RequestParts, query: URLSearchParams | undefined, json: unknown, into: FoundValue[]): string | undefined {
  if (typeof place === 'object' && 'path' in place) {
    const raw = parts.pathParams[place.path];
    if (raw === undefined) return undefined;
    try {
      into.push({ kind, value: decodeURIComponent(raw), from: 'path' });
    } catch {
      return 'A path segment holds malformed percent-encoding.';
    }
    return undefined;
  }
  if (typeof place === 'object' && 'query' in place) {
    for (const value of query?.getAll(place.query) ?? []) into.push({ kind, value, from: `query ${place.query}` });
    return undefined;
  }
  if (typeof place === 'object' && 'otlp' in place) {
    const read = otlpTraceIds(parts.body, parts.headers.get('content-type'), parts.headers.get('content-encoding'));
    if (!read.ok) return `${read.problem[0]!.toUpperCase()}${read.problem.slice(1)}.`;
    for (const value of read.ids) into.push({ kind, value, from: 'otlp span' });
    return undefined;
  }
  if (typeof place === 'object') {
    const value = parts.headers.get(place.header);
    if (value !== null) into.push({ kind, value, from: `header ${place.header}` });
    return undefined;
  }
  const steps = place.split('.');
  if (query && steps.length === 1) {
    for (const name of spellings(place)) for (const value of query.getAll(name)) into.push({ kind, value, from: `query ${name}` });
  }
  if (json !== undefined) return walk(json, steps, 0, kind, place, into);
  return undefined;
}

/** Walks `steps` into parsed JSON, through arrays, by both spellings of each key. */
function walk(node: unknown, steps: ReadonlyArray<string>, at: number, kind: ResourceKind, place: string, into: FoundValue[]): string | undefined {
  if (Array.isArray(node)) {
    for (const item of node) {
      const problem = walk(item, steps, at, kind, place, into);
      if (problem) return problem;
    }
    return undefined;
  }
  if (at === steps.length) {
    if (node === null || node === undefined || typeof node === 'boolean') return undefined;
    if (typeof node === 'string' || typeof node === 'number') {
      into.push({ kind, value: String(node), from: `body ${place}` });
      return undefined;
    }
    return `The request's "${place}" holds an object where an id or a name belongs.`;
  }
  if (node === null || typeof node !== 'object') return undefined;
  for (const key of spellings(steps[at]!)) {
    if (!Object.hasOwn(node, key)) continue;
    const problem = walk((node as Record<string, unknown>)[key], steps, at + 1, kind, place, into);
    if (problem) return problem;
  }
  return undefined;
}

/**
 * Whether a CreateRegisteredModel body tags the entry as a prompt, as MLflow reads it: a tag
 * `mlflow.prompt.is_prompt` with the value "true" (mlflow/prompt/registry_utils.py).
 */
function tagsMakeAPrompt(json: unknown): boolean {
  const tags = json && typeof json === 'object' ? (json as Record<string, unknown>).tags : undefined;
  return Array.isArray(tags) && tags.some((tag) => tag && typeof tag === 'object' && (tag as Record<string, unknown>).key === PROMPT_TAG && String((tag as Record<string, unknown>).value).toLowerCase() === 'true');
}

/** A proto field's name and its JSON name (protobuf's lowerCamelCase, which ParseDict also accepts). */
export function spellings(field: string): string[] {
  const camel = field.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  return camel === field ? [field] : [field, camel];
}

type ParsedBody = { ok: true; json: unknown } | { ok: false; error: BadRequest };

/**
 * The body as MLflow reads it (handlers.py _get_normalized_request_json): JSON, and when that is a
 * string, the JSON inside it (older clients double-encode). UTF-8 only: Python's json would also
 * take UTF-16 or UTF-32, which this would read differently, so those are refused.
 */
function parseBody(body: Uint8Array | undefined): ParsedBody {
  if (!body || body.byteLength === 0) return { ok: true, json: undefined };
  try {
    let json: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body));
    if (typeof json === 'string') json = JSON.parse(json);
    return { ok: true, json };
  } catch {
    return { ok: false, error: new BadRequest('The request body must be JSON (UTF-8) for this operation.') };
  }
}
