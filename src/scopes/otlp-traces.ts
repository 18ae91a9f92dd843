// The trace ids of an OTLP span export (POST /v1/traces), as MLflow reads them
// (mlflow/server/otel_api.py export_traces): the body decompressed by its Content-Encoding (gzip,
// deflate, raw deflate), then protobuf or JSON (hex ids), each span's trace id becoming the MLflow
// trace id `tr-<32 hex>`. MLflow writes a span into the trace of that id wherever the trace lives
// (sqlalchemy_store.log_spans keeps existing traces), whatever experiment the export's header
// names, so each id that exists must be in scope too.
//
// Only the fields on the way to the trace ids are read (opentelemetry/proto/collector/trace/v1:
// ExportTraceServiceRequest.resource_spans = 1, ResourceSpans.scope_spans = 2, ScopeSpans.spans = 2,
// Span.trace_id = 1); anything malformed is refused, as MLflow refuses it.
import { gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';

export type OtlpTraceIds = { ok: true; ids: string[] } | { ok: false; problem: string };

// Decompressed exports larger than this are refused rather than expanded (a small gzip can hold a lot).
const MAX_EXPANDED_BYTES = 64 * 1024 * 1024;

export function otlpTraceIds(body: Uint8Array | undefined, contentType: string | null, contentEncoding: string | null): OtlpTraceIds {
  if (!body || body.byteLength === 0) return { ok: false, problem: 'an OTLP export without spans' };
  let bytes: Uint8Array;
  try {
    bytes = decompress(body, contentEncoding?.trim().toLowerCase() ?? '');
  } catch {
    return { ok: false, problem: 'the OTLP export could not be decompressed' };
  }
  const media = contentType?.split(';')[0]?.trim().toLowerCase();
  try {
    const ids = media === 'application/json' ? fromJson(bytes) : fromProtobuf(bytes);
    return { ok: true, ids: [...new Set(ids)] };
  } catch (error) {
    return { ok: false, problem: `the OTLP export could not be read (${error instanceof Error ? error.message : 'malformed'})` };
  }
}

function decompress(body: Uint8Array, encoding: string): Uint8Array {
  const options = { maxOutputLength: MAX_EXPANDED_BYTES };
  if (encoding === '' || encoding === 'identity') return body;
  if (encoding === 'gzip') return gunzipSync(body, options);
  if (encoding === 'deflate') {
    try {
      return inflateSync(body, options);
    } catch {
      return inflateRawSync(body, options);
    }
  }
  throw new Error(`unsupported Content-Encoding ${encoding}`);
}

const mlflowTraceId = (hex: string) => `tr-${hex.toLowerCase()}`;

function fromJson(bytes: Uint8Array): string[] {
  const json: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  const ids: string[] = [];
  const each = (node: unknown, keys: ReadonlyArray<string>, visit: (item: Record<string, unknown>) => void) => {
    if (!node || typeof node !== 'object') return;
    for (const key of keys) {
      const list = (node as Record<string, unknown>)[key];
      if (Array.isArray(list)) for (const item of list) if (item && typeof item === 'object') visit(item as Record<string, unknown>);
    }
  };
  each(json, ['resourceSpans', 'resource_spans'], (resource) =>
    each(resource, ['scopeSpans', 'scope_spans'], (scope) =>
      each(scope, ['spans'], (span) => {
        for (const key of ['traceId', 'trace_id']) {
          const id = span[key];
          if (id === undefined) continue;
          if (typeof id !== 'string' || !/^[0-9a-fA-F]{32}$/.test(id)) throw new Error('a trace id is not 32 hex digits');
          ids.push(mlflowTraceId(id));
        }
      })));
  return ids;
}

function fromProtobuf(bytes: Uint8Array): string[] {
  const ids: string[] = [];
  for (const resource of fields(bytes, 1)) {
    for (const scope of fields(resource, 2)) {
      for (const span of fields(scope, 2)) {
        for (const id of fields(span, 1)) {
          if (id.byteLength !== 16) throw new Error('a trace id is not 16 bytes');
          ids.push(mlflowTraceId(Buffer.from(id).toString('hex')));
        }
      }
    }
  }
  return ids;
}

/** The length-delimited values of field `wanted` in one protobuf message, every other field skipped. */
function fields(message: Uint8Array, wanted: number): Uint8Array[] {
  const found: Uint8Array[] = [];
  let at = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (at >= message.byteLength) throw new Error('truncated');
      const byte = message[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
    throw new Error('varint too long');
  };
  while (at < message.byteLength) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (wire === 0) varint();
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const length = varint();
      if (at + length > message.byteLength) throw new Error('truncated');
      if (field === wanted) found.push(message.subarray(at, at + length));
      at += length;
    } else throw new Error(`wire type ${wire}`);
    if (at > message.byteLength) throw new Error('truncated');
  }
  return found;
}
