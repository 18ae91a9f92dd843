// A lookup that fails refuses the request (issue 19 item 3): 503 TEMPORARILY_UNAVAILABLE with
// Retry-After (MLflow's client retries it), in MLflow's error shape with a request id, nothing of the
// request forwarded, the cause in the audit line only; and the gateway keeps serving.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createApp } from '../../src/app.ts';
import { hashApiKey } from '../../src/auth/api-key.ts';
import type { AuditRecord } from '../../src/observability/audit.ts';
import { rulesFrom } from '../support/rules.ts';

const KEY = 'alice-key-0123456789abcdef01234';
let mode: 'ok' | '500' | 'slow' | 'html' = 'ok';
const forwarded: string[] = [];
let backend: ReturnType<typeof Bun.serve>;
const audit: AuditRecord[] = [];
let app: ReturnType<typeof createApp>;

beforeAll(() => {
  backend = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      if (!request.headers.get('user-agent')?.includes('(own call)')) {
        forwarded.push(`${request.method} ${url.pathname}`);
        return Response.json({});
      }
      if (mode === '500') return Response.json({ error_code: 'INTERNAL_ERROR', message: 'db down' }, { status: 500 });
      if (mode === 'html') return new Response('<html>bad gateway</html>', { status: 502 });
      if (mode === 'slow') await Bun.sleep(2_000);
      if (url.pathname === '/api/2.0/mlflow/runs/get') return Response.json({ run: { info: { experiment_id: '1' } } });
      return Response.json({ experiment: { name: 'team-a/x' } });
    },
  });
  const rules = rulesFrom(`version: 1
backend: {url: "http://127.0.0.1:${backend.port}"}
lookups: {timeoutSeconds: 0.3, nameSeconds: 0}
clients:
  - {id: alice, apiKeys: [{sha256: "${hashApiKey(KEY)}", expires: "2099-01-01"}], policies: [team-a]}
policies:
  team-a: {operations: [LogMetric], scope: {experiments: ["team-a/**"]}}
`);
  app = createApp({ rules: () => rules, audit: { write: (record) => audit.push(record) } });
});
afterAll(() => backend.stop(true));

const logMetric = (run: string) =>
  app.handle(new Request('http://gateway/api/2.0/mlflow/runs/log-metric', {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ run_id: run, key: 'loss', value: 1, timestamp: 1 }),
  }));

describe('a lookup that fails refuses, and nothing is forwarded', () => {
  for (const failing of ['500', 'html', 'slow'] as const) {
    test(`the backend answering lookups with ${failing === 'slow' ? 'nothing within lookups.timeoutSeconds' : failing}`, async () => {
      mode = failing;
      forwarded.length = 0;
      const response = await logMetric(`run-${failing}`);
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
      const body = await response.json();
      expect(body.error_code).toBe('TEMPORARILY_UNAVAILABLE');
      expect(body.message).toMatch(/request id [0-9a-f-]{36}/);
      expect(body.message).not.toContain('db down');
      expect(forwarded).toEqual([]);
      const line = audit.at(-1)!;
      expect(line.status).toBe(503);
      expect(line.reason ?? '').toMatch(/lookup/);
    });
  }

  test('the same request passes once the backend answers again', async () => {
    mode = 'ok';
    forwarded.length = 0;
    const response = await logMetric('run-ok');
    expect(response.status).toBe(200);
    expect(forwarded).toEqual(['POST /api/2.0/mlflow/runs/log-metric']);
  });
});
