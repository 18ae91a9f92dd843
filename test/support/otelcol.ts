// A real OpenTelemetry Collector for the tracing tests: the distribution in test/otelcol, built by
// scripts/setup-otelcol.sh from the collector's own Go modules. The gateway exports to its OTLP/HTTP
// receiver; the collector decodes, checks and re-exports every span as OTLP JSON (its otlphttp
// exporter) to a sink in this process, where the tests read them. The collector can be stopped and
// started again on the same port (the "collector down mid-run" tests).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, REPO, startProcess, tempDir, waitFor, type Started } from './processes.ts';

/** One span as the collector exported it, flattened with its resource's attributes. */
export interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** 1 internal, 2 server, 3 client (OTLP SpanKind). */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  resource: Record<string, string | number | boolean>;
  status: { code?: number; message?: string };
}

export interface Collector {
  /** The OTLP/HTTP traces URL to give the gateway (rules tracing.endpoint). */
  endpoint: string;
  /** Every span the collector has passed on so far. */
  spans(): ExportedSpan[];
  /** Waits until `predicate` holds over the spans received, and returns them. */
  waitForSpans(predicate: (spans: ExportedSpan[]) => boolean, timeoutMs?: number): Promise<ExportedSpan[]>;
  /** Stops the collector process (its port then refuses connections). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** Stops the collector and the sink (the test file's afterAll). */
  close(): Promise<void>;
}

let binary: string | undefined;

/** The collector binary, built on first use (idempotent: scripts/setup-otelcol.sh). */
export function collectorBinary(): string {
  if (!binary) {
    const run = spawnSync('bash', [join(REPO, 'scripts/setup-otelcol.sh')], { cwd: REPO, encoding: 'utf8', timeout: 1_500_000 });
    if (run.status !== 0) throw new Error(`scripts/setup-otelcol.sh failed:\n${run.stdout}\n${run.stderr}`);
    binary = join(REPO, run.stdout.trim().split('\n').pop()!);
  }
  return binary;
}

type OtlpValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
type OtlpAttribute = { key: string; value: OtlpValue };

function attributesOf(list: OtlpAttribute[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    out[key] = value.stringValue ?? value.boolValue ?? value.doubleValue ?? (value.intValue !== undefined ? Number(value.intValue) : '');
  }
  return out;
}

/** Starts a collector and its sink; the caller closes them (afterAll at the top of its file). */
export async function startCollector(): Promise<Collector> {
  const received: ExportedSpan[] = [];
  const sink = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      const body = (await request.json()) as { resourceSpans?: Array<{ resource?: { attributes?: OtlpAttribute[] }; scopeSpans?: Array<{ spans?: any[] }> }> };
      for (const resourceSpans of body.resourceSpans ?? []) {
        const resource = attributesOf(resourceSpans.resource?.attributes);
        for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
          for (const span of scopeSpans.spans ?? []) {
            received.push({
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId ?? '',
              name: span.name,
              kind: span.kind,
              attributes: attributesOf(span.attributes),
              resource,
              status: span.status ?? {},
            });
          }
        }
      }
      return Response.json({});
    },
  });
  const port = await freePort();
  const dir = tempDir('otelcol');
  const config = join(dir, 'config.yaml');
  // Nothing but the two components, on loopback; the collector's own telemetry (a metrics listener
  // on :8888 by default) off. The exporter neither queues nor retries: what it got, it passes on.
  writeFileSync(
    config,
    `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${port}
exporters:
  otlphttp:
    traces_endpoint: http://127.0.0.1:${sink.port}/v1/traces
    encoding: json
    compression: none
    sending_queue:
      enabled: false
    retry_on_failure:
      enabled: false
service:
  telemetry:
    metrics:
      level: none
    logs:
      level: info
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlphttp]
`,
  );
  const command = collectorBinary();
  let closeSink = () => {};
  let process: Started | undefined;
  const start = async () => {
    process = await startProcess(command, [`--config=file:${config}`], {
      name: 'otelcol',
      // The service's own line once every pipeline (the receiver's listener included) has started.
      ready: (output) => (output.includes('Everything is ready') ? port : undefined),
    });
  };
  await start();
  const collector: Collector = {
    endpoint: `http://127.0.0.1:${port}/v1/traces`,
    spans: () => [...received],
    async waitForSpans(predicate, timeoutMs = 20_000) {
      await waitFor(() => predicate(received), timeoutMs);
      return [...received];
    },
    stop: async () => {
      await process?.stop();
      process = undefined;
    },
    start,
    async close() {
      await collector.stop();
      closeSink();
    },
  };
  closeSink = () => sink.stop(true);
  return collector;
}
