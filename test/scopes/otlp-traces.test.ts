// The trace ids of an OTLP export, read as MLflow reads them (otel_api.py): protobuf or JSON, plain
// or gzip / deflate, every span of every scope of every resource, and what cannot be read refused.
import { describe, expect, test } from 'bun:test';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { otlpTraceIds } from '../../src/scopes/otlp-traces.ts';

// Protobuf by hand: a length-delimited field is its tag (field << 3 | 2), its length, its bytes.
const varint = (n: number) => {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
};
const field = (n: number, bytes: Uint8Array) => new Uint8Array([...varint((n << 3) | 2), ...varint(bytes.byteLength), ...bytes]);
const join = (...parts: Uint8Array[]) => new Uint8Array(parts.flatMap((p) => [...p]));
const hex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const A = '0123456789abcdef0123456789abcdef';
const B = 'fedcba9876543210fedcba9876543210';
const span = (id: string) => join(field(1, hex(id)), new Uint8Array([0x10, 0x05]), field(5, new TextEncoder().encode('name')));
const EXPORT = join(
  field(1, join(field(1, new Uint8Array([1, 2])), field(2, join(field(2, span(A)), field(2, span(B)))))),
  field(1, field(2, field(2, span(A)))),
);

describe('every span\'s trace id, as tr-<hex>', () => {
  const expected = [`tr-${A}`, `tr-${B}`];
  test('protobuf', () => expect(otlpTraceIds(EXPORT, 'application/x-protobuf', null)).toEqual({ ok: true, ids: expected }));
  test('protobuf, gzip', () => expect(otlpTraceIds(gzipSync(EXPORT), 'application/x-protobuf', 'gzip')).toEqual({ ok: true, ids: expected }));
  test('protobuf, deflate (zlib)', () => expect(otlpTraceIds(deflateSync(EXPORT), 'application/x-protobuf', 'deflate')).toEqual({ ok: true, ids: expected }));
  test('protobuf, raw deflate', () => expect(otlpTraceIds(deflateRawSync(EXPORT), 'application/x-protobuf', 'Deflate')).toEqual({ ok: true, ids: expected }));
  test('JSON, both spellings, hex ids in any case', () => {
    const json = { resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: A.toUpperCase() }] }] }], resource_spans: [{ scope_spans: [{ spans: [{ trace_id: B }] }] }] };
    expect(otlpTraceIds(new TextEncoder().encode(JSON.stringify(json)), 'application/json; charset=utf-8', null)).toEqual({ ok: true, ids: expected });
  });
});

describe('what MLflow would refuse, or might read otherwise, is refused', () => {
  const cases: Array<[string, Uint8Array | undefined, string, string | null]> = [
    ['no body', undefined, 'application/x-protobuf', null],
    ['truncated protobuf', EXPORT.subarray(0, EXPORT.byteLength - 3), 'application/x-protobuf', null],
    ['a trace id of 15 bytes', field(1, field(2, field(2, field(1, new Uint8Array(15))))), 'application/x-protobuf', null],
    ['a JSON trace id that is not hex', new TextEncoder().encode('{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"not-hex-not-hex-not-hex-not-hexx"}]}]}]}'), 'application/json', null],
    ['a body that claims gzip but is not', EXPORT, 'application/x-protobuf', 'gzip'],
    ['an encoding MLflow does not know', EXPORT, 'application/x-protobuf', 'br'],
  ];
  for (const [label, body, type, encoding] of cases) {
    test(label, () => expect(otlpTraceIds(body, type, encoding).ok).toBe(false));
  }
});
