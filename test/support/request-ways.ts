// Every way one MLflow request can carry the same ids, for attack tables (test/e2e/cross-team.test.ts).
// A request is described once, by its fields with the target's values and with the caller's own; this
// spells it each way MLflow reads it (mlflow/server/handlers.py `_get_request_message`, 2.16 and
// 3.17):
// - a GET with a query takes its fields from the query (first value of a single field, every value of a
//   list); a GET *without* a query, and every other method, takes a JSON body;
// - a body is parsed with protobuf's ParseDict: a field's proto name (`run_id`) and JSON name
//   (`runId`) both work, and when both are given 2.16 keeps the later one (3.17 refuses the request);
//   a body that is a JSON string holding the JSON is decoded twice (older clients);
// - a path placeholder is percent-decoded by the router;
// - every proto route is served under `/ajax-api/` too.
// Each spelling is one attempt; the gateway must decide every one as MLflow would act on it.

export type Fields = Record<string, unknown>;

export interface Spelling {
  /** How the ids travel, in words (the row's name). */
  way: string;
  method: string;
  /** Path and query, byte for byte. */
  target: string;
  body?: string | Uint8Array;
  headers: Record<string, string>;
}

export interface RequestShape {
  method: string;
  /** The path; each `{}` is filled from `segments`. */
  path: string;
  /**
   * Path placeholders with the target's values, and with the caller's own (for the mixed spellings),
   * and their names (`model_id`), the field a body or query could also carry.
   */
  segments?: { theirs: string[]; own?: string[]; names?: string[] };
  /** The fields (query for a GET, JSON body otherwise) with the target's values, and with the caller's own. */
  fields?: { theirs: Fields; own?: Fields };
  /** Dotted names of the fields that carry ids (`metrics.model_id` walks into a list's items). */
  ids?: ReadonlyArray<string>;
  /** Served under /ajax-api/ as well (every proto route); false for the Flask-only routes. */
  ajaxTwin: boolean;
  /** A body sent as is (an upload), with its content type. */
  rawBody?: { bytes: Uint8Array | string; contentType: string };
  headers?: Record<string, string>;
}

/** The spellings of one request: the plain one first, then every other way the ids can travel. */
export function spellingsOf(shape: RequestShape): Spelling[] {
  const spellings: Spelling[] = [];
  const add = (way: string, method: string, target: string, body?: string | Uint8Array, json = false) =>
    spellings.push({ way, method, target, ...(body !== undefined ? { body } : {}), headers: { ...(json ? { 'content-type': 'application/json' } : {}), ...(shape.rawBody ? { 'content-type': shape.rawBody.contentType } : {}), ...shape.headers } });
  const theirs = shape.fields?.theirs ?? {};
  const own = shape.fields?.own;
  const ids = shape.ids ?? [];
  const path = fill(shape.path, shape.segments?.theirs ?? []);
  const isGet = shape.method === 'GET';

  const inPath = (shape.segments?.theirs.length ?? 0) > 0;
  if (shape.rawBody) {
    add(inPath ? 'path, raw body' : 'query, raw body', shape.method, `${path}${query(theirs)}`, shape.rawBody.bytes);
  } else if (isGet) {
    add(inPath ? 'path' : 'query', 'GET', `${path}${query(theirs)}`);
  } else {
    add(inPath ? 'path, JSON body' : 'JSON body', shape.method, path, JSON.stringify(theirs), true);
  }
  if (shape.segments && shape.segments.theirs.length > 0) {
    const encodedPath = fill(shape.path, shape.segments.theirs, encodeEvery);
    if (isGet || shape.rawBody) add('path percent-encoded', shape.method, `${encodedPath}${query(theirs)}`, shape.rawBody?.bytes);
    else add('path percent-encoded', shape.method, encodedPath, JSON.stringify(theirs), true);
    // The same id twice, in the path and as a field, one the target's and one the caller's own:
    // MLflow's handlers take the path's (e.g. _create_assessment sets assessment.trace_id from it),
    // and the gateway must not let either copy through unchecked.
    const { own: ownSegments, names } = shape.segments;
    if (ownSegments && names && !shape.rawBody) {
      const withField = (values: ReadonlyArray<string>) => ({ ...theirs, ...Object.fromEntries(names.map((name, i) => [name, values[i]])) });
      const ownPath = fill(shape.path, ownSegments);
      if (isGet) {
        add('path theirs, same field in the query own', 'GET', `${path}${query(withField(ownSegments))}`);
        add('path own, same field in the query theirs', 'GET', `${ownPath}${query(withField(shape.segments.theirs))}`);
      } else {
        add('path theirs, same field in the body own', shape.method, path, JSON.stringify(withField(ownSegments)), true);
        add('path own, same field in the body theirs', shape.method, ownPath, JSON.stringify(withField(shape.segments.theirs)), true);
      }
    }
  }
  if (ids.length > 0 && !shape.rawBody) {
    if (isGet) {
      add('query percent-encoded', 'GET', `${path}${query(theirs, ids)}`);
      if (own) {
        add("query repeated, theirs first", 'GET', `${path}${repeated(theirs, own, ids, 'theirs-first')}`);
        add("query repeated, own first", 'GET', `${path}${repeated(theirs, own, ids, 'own-first')}`);
      }
      add('GET with a JSON body, no query', 'GET', path, JSON.stringify(theirs), true);
      add('GET with a camelCase JSON body, no query', 'GET', path, JSON.stringify(camelIds(theirs, ids)), true);
    } else {
      add('JSON body, camelCase', shape.method, path, JSON.stringify(camelIds(theirs, ids)), true);
      // Both spellings of a top-level id field (the ones protobuf would see twice in one object).
      if (own && ids.some((id) => !id.includes('.') && id in own && id !== camel(id))) {
        add('JSON body, own snake_case then their camelCase', shape.method, path, bothSpellings(own, theirs, ids, 'snake-first'), true);
        add('JSON body, own camelCase then their snake_case', shape.method, path, bothSpellings(own, theirs, ids, 'camel-first'), true);
      }
      add('double-encoded JSON body', shape.method, path, JSON.stringify(JSON.stringify(theirs)), true);
    }
  }
  if (shape.ajaxTwin) {
    const ajax = path.replace(/^\/api\//, '/ajax-api/');
    if (shape.rawBody) add('/ajax-api/', shape.method, `${ajax}${query(theirs)}`, shape.rawBody.bytes);
    else if (isGet) add('/ajax-api/', 'GET', `${ajax}${query(theirs)}`);
    else add('/ajax-api/', shape.method, ajax, JSON.stringify(theirs), true);
  }
  return spellings;
}

/** The template with each `{}` replaced by a value; a value may hold `/` (an artifact path): each part is encoded. */
function fill(template: string, segments: ReadonlyArray<string>, encode: (part: string) => string = encodeURIComponent): string {
  let i = 0;
  return template.replace(/\{\}/g, () => {
    const segment = segments[i++];
    if (segment === undefined) throw new Error(`${template}: too few segments`);
    return segment.split('/').map(encode).join('/');
  });
}

/**
 * Every byte as %XX, unreserved characters included (the router decodes them all the same), but
 * dots: an encoded dot (like an encoded slash) is refused by the gateway as ambiguous before it
 * looks at anything else (issue 3), which would hide what this spelling tests.
 */
export function encodeEvery(value: string): string {
  return [...new TextEncoder().encode(value)].map((byte) => (byte === 0x2e ? '.' : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}

/** `?a=1&b=x&b=y` (lists as repeated keys), values form-encoded; `encodeAll` fields with every byte as %XX. */
export function query(fields: Fields, encodeAll: ReadonlyArray<string> = []): string {
  const pairs: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item === undefined) continue;
      const text = typeof item === 'object' ? JSON.stringify(item) : String(item);
      pairs.push(`${key}=${encodeAll.includes(key) ? encodeEvery(text) : encodeURIComponent(text)}`);
    }
  }
  return pairs.length ? `?${pairs.join('&')}` : '';
}

/** The id fields given twice in the query: the target's value and the caller's own, in either order. */
function repeated(theirs: Fields, own: Fields, ids: ReadonlyArray<string>, order: 'theirs-first' | 'own-first'): string {
  const pairs: string[] = [];
  for (const [key, value] of Object.entries(theirs)) {
    const values = ids.includes(key) ? (order === 'theirs-first' ? [value, own[key]] : [own[key], value]) : [value];
    for (const v of values.flat()) if (v !== undefined) pairs.push(`${key}=${encodeURIComponent(String(v))}`);
  }
  return `?${pairs.join('&')}`;
}

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** The id fields (at any depth along their dotted names) renamed to their JSON names. */
export function camelIds(fields: Fields, ids: ReadonlyArray<string>): Fields {
  const out: Fields = structuredClone(fields);
  for (const id of ids) renameAlong(out, id.split('.'));
  return out;
}

function renameAlong(node: unknown, steps: string[]): void {
  if (Array.isArray(node)) {
    for (const item of node) renameAlong(item, steps);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const object = node as Fields;
  const [step, ...rest] = steps;
  if (!step || !(step in object)) return;
  if (rest.length === 0) {
    const value = object[step];
    delete object[step];
    object[camel(step)] = value;
  } else {
    renameAlong(object[step], rest);
  }
}

/**
 * A body naming the top-level id fields twice: the caller's own value first, the target's last (the
 * one 2.16 keeps), in the two orders of spelling.
 */
function bothSpellings(own: Fields, theirs: Fields, ids: ReadonlyArray<string>, order: 'snake-first' | 'camel-first'): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(theirs)) {
    if (!ids.includes(key) || key === camel(key) || !(key in own)) {
      parts.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
      continue;
    }
    const [first, last] = order === 'snake-first' ? [key, camel(key)] : [camel(key), key];
    parts.push(`${JSON.stringify(first)}:${JSON.stringify(own[key])}`, `${JSON.stringify(last)}:${JSON.stringify(value)}`);
  }
  return `{${parts.join(',')}}`;
}
