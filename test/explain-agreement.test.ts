// `explain` and the gateway agree: one table of requests (REST reads and writes, GraphQL reads and
// mutations, the gateway's own endpoints, the UI entry, the mount-prefix redirect, unknown and
// missing clients) goes through `explain` and through the live gateway (createApp in-process, in
// front of a loopback upstream that answers 200 to everything), and both must reach the same
// decision: explain's ALLOW exactly when the gateway lets the request through (status below 400).
// A self-hosted backend and a SageMaker one (signed, to a loopback endpoint; its UI entry mints
// links from the SageMaker control-plane stand-in), since their stage lists differ.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createApp } from '../src/app.ts';
import { explain } from '../src/explain.ts';
import * as graphql from '../src/pipeline/graphql.ts';
import { hashApiKey } from '../src/auth/api-key.ts';
import type { CredentialCache } from '../src/aws/credentials.ts';
import type { CompiledRules } from '../src/rules/compile.ts';
import { rulesFrom } from './support/rules.ts';
import { staticCredentials } from './support/credentials.ts';
import { startSageMakerControlPlane, type ControlPlaneStandin } from './standins/sagemaker-control-plane.ts';

const KEYS = { reader: 'agreement-reader-key-0123456789', writer: 'agreement-writer-key-0123456789', stranger: 'agreement-unknown-key-012345' };

const TRACKING_ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/agree';

let upstream: ReturnType<typeof Bun.serve>;
let controlPlane: ControlPlaneStandin;
const endpointBefore = process.env.AWS_ENDPOINT_URL_SAGEMAKER;
beforeAll(() => {
  upstream = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => Response.json({}) });
  controlPlane = startSageMakerControlPlane({ region: 'us-east-1', resources: [TRACKING_ARN] });
  // The UI entry's SDK client reads it when it is made, on the first /ui request (one per credential cache, so this file's only).
  process.env.AWS_ENDPOINT_URL_SAGEMAKER = controlPlane.endpoint;
});
afterAll(() => {
  upstream.stop(true);
  controlPlane.stop();
  if (endpointBefore === undefined) delete process.env.AWS_ENDPOINT_URL_SAGEMAKER;
  else process.env.AWS_ENDPOINT_URL_SAGEMAKER = endpointBefore;
});

const rulesYaml = (backend: string, extra = '') => `version: 1
backend: ${backend}
rewrites:
  - {name: mount-prefix, stripPrefix: /mlflow}
clients:
  - {id: reader, apiKeys: [{sha256: "${hashApiKey(KEYS.reader)}", expires: 2099-01-01}], policies: [read]}
  - {id: writer, apiKeys: [{sha256: "${hashApiKey(KEYS.writer)}", expires: 2099-01-01}], policies: [write]}
policies:
  read: {operations: ["Get*", "Search*", "List*", AccessUI]}
  write: {include: [read], operations: [CreateExperiment, LogMetric, UpdateExperiment], allow: [{methods: [GET], paths: [/ajax-api/2.0/mlflow/gateway-proxy]}]}
${extra}`;

const graphqlBody = (query: string) => JSON.stringify({ query });
const GRAPHQL_READ = graphqlBody('{ mlflowGetExperiment(input: {experimentId: "1"}) { experiment { name } } }');
const GRAPHQL_RUN_WITH_EXPERIMENT = graphqlBody('query { mlflowGetRun(input: {runId: "r"}) { run { info { runUuid } experiment { name } modelVersions { name } } } }');
const GRAPHQL_SEARCH_MUTATION = graphqlBody('mutation { mlflowSearchRuns(input: {experimentIds: ["1"]}) { runs { info { runUuid } } } }');
const GRAPHQL_UNKNOWN_FIELD = graphqlBody('mutation { mlflowDeleteExperiment(input: {experimentId: "1"}) { ok } }');
const GRAPHQL_INTROSPECTION = graphqlBody('{ __schema { types { name } } }');

type Row = [client: keyof typeof KEYS | undefined, method: string, url: string, body?: string];

const COMMON: Row[] = [
  ['reader', 'GET', '/api/2.0/mlflow/experiments/get?experiment_id=1'],
  ['reader', 'GET', '/mlflow/api/2.0/mlflow/experiments/get-by-name?experiment_name=a+b'],
  ['reader', 'POST', '/api/2.0/mlflow/runs/search', '{}'],
  ['reader', 'POST', '/api/2.0/mlflow/experiments/create', '{"name":"x"}'],
  ['writer', 'POST', '/api/2.0/mlflow/experiments/create', '{"name":"x"}'],
  ['writer', 'POST', '/api/2.0/mlflow/runs/log-metric', '{"run_id":"r","key":"k","value":1,"timestamp":1}'],
  ['writer', 'POST', '/api/2.0/mlflow/runs/delete', '{"run_id":"r"}'],
  ['reader', 'GET', '/ajax-api/2.0/mlflow/gateway-proxy'],
  ['writer', 'GET', '/ajax-api/2.0/mlflow/gateway-proxy'],
  ['reader', 'GET', '/api/2.0/mlflow/not-an-operation'],
  ['reader', 'POST', '/graphql', GRAPHQL_READ],
  ['reader', 'POST', '/mlflow/graphql', GRAPHQL_RUN_WITH_EXPERIMENT],
  ['reader', 'POST', '/graphql', GRAPHQL_SEARCH_MUTATION],
  ['writer', 'POST', '/graphql', GRAPHQL_UNKNOWN_FIELD],
  ['writer', 'POST', '/graphql', GRAPHQL_INTROSPECTION],
  ['reader', 'GET', '/graphql'],
  [undefined, 'GET', '/-/live'],
  [undefined, 'GET', '/-/ready'],
  ['reader', 'GET', '/-/ready'],
  [undefined, 'GET', '/api/2.0/mlflow/experiments/get?experiment_id=1'],
  ['stranger', 'GET', '/api/2.0/mlflow/experiments/get?experiment_id=1'],
  ['reader', 'GET', '/mlflow'],
  [undefined, 'GET', '/mlflow'],
];

const SELF_HOSTED: Row[] = [
  ...COMMON,
  ['reader', 'GET', '/'],
  ['reader', 'GET', '/mlflow/static-files/app.js'],
  [undefined, 'GET', '/'],
];

const SAGEMAKER: Row[] = [
  ...COMMON,
  // The UI entry: redirected to a presigned link for a client with AccessUI; a POST, a stranger and no credentials are refused.
  ['reader', 'GET', '/ui'],
  ['writer', 'POST', '/ui'],
  [undefined, 'GET', '/ui'],
  ['stranger', 'GET', '/ui'],
];

const hostCredentials = (): CredentialCache => {
  const creds = staticCredentials();
  return { get: async () => creds, cached: () => creds, expiration: () => undefined, refreshes: () => 0 };
};

async function throughGateway(app: ReturnType<typeof createApp>, [client, method, url, body]: Row): Promise<number> {
  const headers = new Headers({ accept: 'application/json' });
  if (client) headers.set('authorization', `Bearer ${KEYS[client]}`);
  if (body !== undefined) headers.set('content-type', 'application/json');
  const response = await app.handle(new Request(`http://127.0.0.1${url}`, { method, headers, ...(body !== undefined ? { body } : {}) }));
  await response.arrayBuffer();
  return response.status;
}

function agreementTable(name: string, rows: Row[], rules: () => CompiledRules, credentials?: () => CredentialCache) {
  describe(`explain agrees with the gateway (${name})`, () => {
    let app: ReturnType<typeof createApp>;
    beforeAll(() => {
      app = createApp({ rules, audit: { write: () => {} }, ...(credentials ? { credentials: credentials() } : {}) });
    });
    for (const row of rows) {
      const [client, method, url] = row;
      const document = row[3] && url.endsWith('/graphql') ? ` ${JSON.parse(row[3]).query.slice(0, 40)}` : '';
      test(`${client ?? '(no credentials)'} ${method} ${url}${document}`, async () => {
        const explained = explain(rules(), method, url, client, { graphql, ...(row[3] !== undefined ? { body: row[3] } : {}) });
        const status = await throughGateway(app, row);
        expect({ explain: explained.allowed ? 'ALLOW' : 'DENY', gateway: status < 400 ? 'ALLOW' : 'DENY', status, lines: explained.lines }).toEqual({
          explain: status < 400 ? 'ALLOW' : 'DENY',
          gateway: status < 400 ? 'ALLOW' : 'DENY',
          status,
          lines: explained.lines,
        });
      });
    }
  });
}

let selfHosted: CompiledRules;
let sagemaker: CompiledRules;
beforeAll(() => {
  selfHosted = rulesFrom(rulesYaml(`{url: "http://127.0.0.1:${upstream.port}"}`));
  sagemaker = rulesFrom(
    rulesYaml(`{arn: "${TRACKING_ARN}", endpoint: "http://127.0.0.1:${upstream.port}"}`, 'ui: {path: /ui}\n'),
  );
});

agreementTable('self-hosted MLflow', SELF_HOSTED, () => selfHosted);
agreementTable('SageMaker tracking server', SAGEMAKER, () => sagemaker, hostCredentials);
