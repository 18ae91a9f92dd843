// The SageMaker SDK client (UI entry) and the GraphQL parser are loaded with their first use, not
// with the server: together they are about 4.5 MB of heap (60 000 objects) that every garbage
// collection of a gateway serving API clients alone would otherwise walk (bench/auth.ts showed
// ~10 % more CPU per request when they were loaded up front). Checked in a fresh process: if the
// server already loaded them, importing them afterwards would add nothing.
import { expect, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { BUN, REPO } from './support/processes.ts';

const SCRIPT = `
const { heapStats } = await import('bun:jsc');
const objects = () => { Bun.gc(true); return heapStats().objectCount; };
await import('./src/server.ts');
const server = objects();
await import('./src/ui/presigned-url.ts');
const sdk = objects();
await import('./src/pipeline/graphql.ts');
const parser = objects();
console.log(JSON.stringify({ sdk: sdk - server, parser: parser - sdk }));
`;

test('importing the server loads neither the SageMaker SDK nor the GraphQL parser', () => {
  const run = spawnSync(BUN, ['-e', SCRIPT], { cwd: REPO, encoding: 'utf8' });
  expect(run.status).toBe(0);
  const added = JSON.parse(run.stdout.trim().split('\n').pop()!);
  expect(added.sdk).toBeGreaterThan(10_000);
  expect(added.parser).toBeGreaterThan(1_000);
});

// prom-client is loaded only when a metrics listener is configured (main.ts imports
// observability/metrics.ts then); what the server and the serve builders import leaves it out.
const METRICS_SCRIPT = `
const { heapStats } = await import('bun:jsc');
const objects = () => { Bun.gc(true); return heapStats().objectCount; };
await import('./src/server.ts');
await import('./src/serve/audit.ts');
await import('./src/serve/listeners.ts');
await import('./src/observability/gateway-metrics.ts');
const before = objects();
await import('prom-client');
console.log(JSON.stringify({ promClient: objects() - before }));
`;

test('without metrics, neither the server nor the serve builders load prom-client', () => {
  const run = spawnSync(BUN, ['-e', METRICS_SCRIPT], { cwd: REPO, encoding: 'utf8' });
  expect(run.status).toBe(0);
  const added = JSON.parse(run.stdout.trim().split('\n').pop()!);
  expect(added.promClient).toBeGreaterThan(1_000);
});

// The OpenTelemetry SDK is loaded only when the rules have a tracing section (main.ts imports
// observability/otel.ts then): the server, the serve builders and the tracing stages leave it out.
const TRACING_SCRIPT = `
const { heapStats } = await import('bun:jsc');
const objects = () => { Bun.gc(true); return heapStats().objectCount; };
await import('./src/server.ts');
await import('./src/serve/credentials.ts');
await import('./src/serve/artifacts.ts');
await import('./src/observability/traced-io.ts');
const before = objects();
await import('./src/observability/otel.ts');
console.log(JSON.stringify({ sdk: objects() - before }));
`;

test('without tracing, neither the server nor the serve builders load the OpenTelemetry SDK', () => {
  const run = spawnSync(BUN, ['-e', TRACING_SCRIPT], { cwd: REPO, encoding: 'utf8' });
  expect(run.status).toBe(0);
  const added = JSON.parse(run.stdout.trim().split('\n').pop()!);
  expect(added.sdk).toBeGreaterThan(1_000);
});
