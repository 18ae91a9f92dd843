import { describe, expect, test } from 'bun:test';
import { authorize } from '../../src/pipeline/authorize.ts';
import { operationFor } from '../../src/rules/operations.ts';
import { rulesFrom } from '../support/rules.ts';

const hash = (c: string) => c.repeat(64);
const rules = rulesFrom(`version: 1
backend: {url: "http://127.0.0.1:5000"}
clients:
  - {id: reader, apiKeySha256: "${hash('1')}", policies: [read-only]}
  - {id: trainer, apiKeySha256: "${hash('2')}", policies: [log-runs]}
  - {id: health, apiKeySha256: "${hash('3')}", policies: [probe]}
  - {id: nobody, apiKeySha256: "${hash('4')}", policies: [empty]}
policies:
  read-only: {operations: ["Get*", "Search*", "List*"]}
  log-runs: {include: [read-only], operations: [CreateRun, LogMetric, LogBatch]}
  probe: {allow: [{methods: [GET], paths: ["/health", "/static-files/**"]}]}
  empty: {}
`);
const client = (id: string) => rules.clientsById.get(id)!;

describe('MLflow operations are found from method and upstream path', () => {
  const cases: Array<[string, string, string | undefined]> = [
    ['GET', '/api/2.0/mlflow/experiments/get-by-name', 'GetExperimentByName'],
    ['POST', '/api/2.0/mlflow/runs/search', 'SearchRuns'],
    ['POST', '/api/2.0/mlflow/runs/log-parameter', 'LogParam'],
    ['GET', '/api/2.0/mlflow/registered-models/alias', 'GetModelVersionByAlias'],
    ['POST', '/api/2.0/mlflow/registered-models/alias', 'SetRegisteredModelAlias'],
    ['DELETE', '/api/2.0/mlflow/registered-models/alias', 'DeleteRegisteredModelAlias'],
    ['GET', '/api/3.0/mlflow/traces/tr-123', 'GetTraceInfoV3'],
    ['POST', '/api/3.0/mlflow/traces/search', 'SearchTracesV3'],
    ['GET', '/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model.pkl', 'ReadArtifacts'],
    ['GET', '/version', 'GetServerVersion'],
    ['POST', '/ajax-api/2.0/mlflow/runs/search', 'SearchRuns'], // the UI's prefix, unrewritten for a self-hosted backend
    ['GET', '/ajax-api/3.0/mlflow/server-info', 'GetServerInfo'],
    ['GET', '/ajax-api/2.0/mlflow/gateway-proxy', 'GatewayProxy'],
    // What MLflow added after 3.6 (the table follows the server, scripts/gen-operations.py):
    ['POST', '/v1/traces', 'ExportOtlpTraces'],
    ['POST', '/api/2.0/mlflow/traces/link-prompts', 'LinkPromptsToTrace'],
    ['POST', '/api/3.0/mlflow/traces/metrics', 'QueryTraceMetrics'],
    ['DELETE', '/api/3.0/mlflow/datasets/d-1/records', 'DeleteDatasetRecords'],
    ['POST', '/api/2.0/mlflow/artifacts/presigned-upload-url', 'CreatePresignedUploadUrl'],
    ['GET', '/ajax-api/3.0/mlflow/ui-telemetry', 'GetUiTelemetry'],
    ['GET', '/api/3.0/mlflow/ui-telemetry', 'GetUiTelemetry'], // the UI's ajax-only route, after the SageMaker rewrite
    ['GET', '/ajax-api/2.0/mlflow/users/current', 'GetCurrentUser'],
    ['GET', '/api/3.0/mlflow/mcp-servers/srv/versions/1', 'GetMcpServerVersion'], // the more specific template wins
    ['GET', '/api/3.0/mlflow/mcp-servers/srv', 'GetMcpServer'],
    ['POST', '/graphql', undefined], // decided field by field (graphql.ts), never granted as one operation
    ['POST', '/gateway/my-endpoint/mlflow/invocations', 'GatewayInvocations'], // a template without a literal prefix
    ['GET', '/static-files/static/js/main.js', 'AccessUI'],
    ['GET', '/api/2.0/mlflow/runs/log-metric', undefined],
    ['POST', '/api/9.0/mlflow/runs/log-metric', undefined],
  ];
  for (const [method, path, operation] of cases) {
    test(`${method} ${path} is ${operation ?? 'no operation'}`, () => {
      expect(operationFor(method, path)).toBe(operation);
    });
  }
});

describe('authorization is default deny, decided per client', () => {
  const cases: Array<[string, string, string, string, boolean, string?]> = [
    ['a reader may search runs', 'reader', 'POST', '/api/2.0/mlflow/runs/search', true, 'read-only'],
    ['a reader may not log a metric', 'reader', 'POST', '/api/2.0/mlflow/runs/log-metric', false],
    ['a trainer may log a metric', 'trainer', 'POST', '/api/2.0/mlflow/runs/log-metric', true, 'log-runs'],
    ['a trainer may read through the included read-only policy', 'trainer', 'GET', '/api/2.0/mlflow/runs/get', true, 'log-runs'],
    ['a trainer may not delete an experiment', 'trainer', 'POST', '/api/2.0/mlflow/experiments/delete', false],
    ['a path rule allows a non-operation path', 'health', 'GET', '/static-files/app.js', true, 'probe'],
    ['a path rule is method-specific', 'health', 'POST', '/health', false],
    ['a policy with nothing in it allows nothing', 'nobody', 'GET', '/api/2.0/mlflow/runs/get', false],
    ['an unknown path is denied', 'reader', 'GET', '/admin', false],
  ];
  for (const [sentence, id, method, path, allowed, policy] of cases) {
    test(sentence, () => {
      const decision = authorize(client(id), method, path);
      expect(decision.allowed).toBe(allowed);
      if (policy) expect(decision.policy).toBe(policy);
    });
  }

  test('the reason names the included policy that granted the operation', () => {
    expect(authorize(client('trainer'), 'GET', '/api/2.0/mlflow/runs/get').reason).toBe('operation GetRun (via read-only)');
  });

  test('a denial says which operation was missing and which policies were checked', () => {
    expect(authorize(client('reader'), 'POST', '/api/2.0/mlflow/runs/log-metric').reason).toBe(
      'no policy of reader (read-only) allows operation LogMetric',
    );
  });
});
