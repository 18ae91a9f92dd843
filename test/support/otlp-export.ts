// A minimal OTLP trace export (opentelemetry/proto/collector/trace/v1 ExportTraceServiceRequest,
// protobuf binary), as MLflow 3.x's client posts to `/v1/traces`: one resource, one scope, one span.
// Hand-encoded (field numbers from opentelemetry-proto trace.proto) so tests need no protobuf library.

const encoder = new TextEncoder();

function varint(value: number | bigint): number[] {
  let v = BigInt(value);
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}

function bytesField(field: number, bytes: ArrayLike<number>): number[] {
  return [...varint((field << 3) | 2), ...varint(bytes.length), ...Array.from(bytes)];
}

function fixed64Field(field: number, value: bigint): number[] {
  const out = [...varint((field << 3) | 1)];
  for (let i = 0n; i < 8n; i++) out.push(Number((value >> (8n * i)) & 0xffn));
  return out;
}

function hex(text: string): number[] {
  return text.match(/../g)!.map((pair) => parseInt(pair, 16));
}

/** One span `name` in trace `traceIdHex` (32 hex digits), with `attribute` (key → string value) on it. */
export function otlpExport(traceIdHex: string, spanIdHex: string, name: string, attribute: [string, string]): Uint8Array {
  const now = BigInt(Date.now()) * 1_000_000n;
  // KeyValue{1: key, 2: AnyValue{1: string_value}}
  const keyValue = [...bytesField(1, encoder.encode(attribute[0])), ...bytesField(2, bytesField(1, encoder.encode(attribute[1])))];
  const span = [
    ...bytesField(1, hex(traceIdHex)), // trace_id
    ...bytesField(2, hex(spanIdHex)), // span_id
    ...bytesField(5, encoder.encode(name)), // name
    ...fixed64Field(7, now), // start_time_unix_nano
    ...fixed64Field(8, now + 1_000_000n), // end_time_unix_nano
    ...bytesField(9, keyValue), // attributes
  ];
  const scopeSpans = bytesField(2, span); // ScopeSpans.spans
  const resourceSpans = bytesField(2, scopeSpans); // ResourceSpans.scope_spans
  return new Uint8Array(bytesField(1, resourceSpans)); // ExportTraceServiceRequest.resource_spans
}
