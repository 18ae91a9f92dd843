// `explain` and the gateway agree: one table of requests (REST reads and writes, GraphQL reads and
// mutations, the gateway's own endpoints, the UI entry, the mount-prefix redirect, unknown and
// missing clients) goes through `explain` and through the live gateway (createApp in-process, in
// front of a loopback upstream that answers 200 to everything), and both must reach the same
// decision: explain's ALLOW exactly when the gateway lets the request through (status below 400).
// Scoped policies (and the old conditions, read as scopes) are decided on what the request says
// (its query, its body: explain's --data), so their rows carry both the allowed and the refused
// spelling of each. A request naming an id depends on what the gateway would look up, which explain
// does not do: it says DEPENDS and names the lookup, and the test checks that the gateway made it.
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

const KEYS = {
  reader: 'agreement-reader-key-0123456789',
  writer: 'agreement-writer-key-0123456789',
  teamA: 'agreement-team-a-key-0123456789',
  scoped: 'agreement-scoped-key-0123456789',
  stranger: 'agreement-unknown-key-012345',
};

const TRACKING_ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/agree';

let upstream: ReturnType<typeof Bun.serve>;
let lookups = 0;
let controlPlane: ControlPlaneStandin;
const endpointBefore = process.env.AWS_ENDPOINT_URL_SAGEMAKER;
beforeAll(() => {
  // Answers the gateway's own lookups (scoped policies) like MLflow: experiment 1 is team A's, 2 team B's.
  upstream = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch(request) {
      const url = new URL(request.url);
      if (!request.headers.get('user-agent')?.includes('(own call)') || url.pathname !== '/api/2.0/mlflow/experiments/get') return Response.json({});
      lookups++;
      const name = ({ '1': 'team-a/one', '2': 'team-b/two' } as Record<string, string>)[url.searchParams.get('experiment_id') ?? ''];
      return name ? Response.json({ experiment: { name } }) : Response.json({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'no' }, { status: 404 });
    },
  });
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
# Every scoped row asks again, so the test sees the lookup explain names.
lookups: {nameSeconds: 0}
rewrites:
  - {name: mount-prefix, stripPrefix: /mlflow}
clients:
  - {id: reader, apiKeys: [{sha256: "${hashApiKey(KEYS.reader)}", expires: 2099-01-01}], policies: [read]}
  - {id: writer, apiKeys: [{sha256: "${hashApiKey(KEYS.writer)}", expires: 2099-01-01}], policies: [write]}
  - {id: teamA, apiKeys: [{sha256: "${hashApiKey(KEYS.teamA)}", expires: 2099-01-01}], policies: [team-a]}
  - {id: scoped, apiKeys: [{sha256: "${hashApiKey(KEYS.scoped)}", expires: 2099-01-01}], policies: [personal]}
policies:
  team-a: {operations: [CreateExperiment, GetExperimentByName, UpdateExperiment, GetExperiment], conditions: {experimentNamePrefix: [team-a/, shared/]}}
  personal: {operations: [CreateExperiment, SearchExperiments, SearchRuns, GetExperiment, GetRegisteredModel], scope: {experiments: ["users/{client}/**"]}}
  read: {operations: ["Get*", "Search*", "List*", AccessUI, ReadArtifacts]}
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
  // Conditions: the name is read from the body (create, rename) or the query (get-by-name).
  ['teamA', 'POST', '/api/2.0/mlflow/experiments/create', '{"name":"team-a/x"}'],
  ['teamA', 'POST', '/mlflow/api/2.0/mlflow/experiments/create', '{"name":"shared/x","tags":[]}'],
  ['teamA', 'POST', '/api/2.0/mlflow/experiments/create', '{"name":"team-b/x"}'],
  ['teamA', 'POST', '/api/2.0/mlflow/experiments/create', '{"name":["team-a/x"]}'],
  ['teamA', 'POST', '/api/2.0/mlflow/experiments/create', 'name=team-a/x'],
  ['teamA', 'POST', '/api/2.0/mlflow/experiments/create'],
  ['teamA', 'POST', '/ajax-api/2.0/mlflow/experiments/update', '{"experiment_id":"1","new_name":"team-a/renamed"}'],
  ['teamA', 'POST', '/api/2.0/mlflow/experiments/update', '{"experiment_id":"1","new_name":"team-b/renamed"}'],
  ['teamA', 'GET', '/api/2.0/mlflow/experiments/get-by-name?experiment_name=team-a%2Fx'],
  ['teamA', 'GET', '/api/2.0/mlflow/experiments/get-by-name?experiment_name=team-a/x'],
  ['teamA', 'GET', '/api/2.0/mlflow/experiments/get-by-name?experiment_name=team-b/x'],
  ['teamA', 'GET', '/api/2.0/mlflow/experiments/get-by-name?experiment_name=team-a/x&experiment_name=team-b/x'],
  ['teamA', 'GET', '/api/2.0/mlflow/experiments/get-by-name'],
  ['teamA', 'GET', '/api/2.0/mlflow/experiments/get?experiment_id=1'],
  ['teamA', 'GET', '/api/2.0/mlflow/experiments/get?experiment_id=2'],
  ['teamA', 'POST', '/api/2.0/mlflow/experiments/update', '{"experiment_id":"2","new_name":"team-a/taken"}'],
  // A scope written as one: names decide at once, ids depend on a lookup, searches are filtered.
  ['scoped', 'POST', '/api/2.0/mlflow/experiments/create', '{"name":"users/scoped/x"}'],
  ['scoped', 'POST', '/api/2.0/mlflow/experiments/create', '{"name":"users/other/x"}'],
  ['scoped', 'POST', '/api/2.0/mlflow/experiments/create', '{"name":"users/scoped/x","artifact_location":"s3://elsewhere"}'],
  ['scoped', 'GET', '/api/2.0/mlflow/experiments/search'],
  ['scoped', 'POST', '/api/2.0/mlflow/runs/search', '{"experiment_ids":["1"]}'],
  ['scoped', 'POST', '/api/2.0/mlflow/runs/search', '{}'],
  ['scoped', 'GET', '/api/2.0/mlflow/registered-models/get?name=m'],
  ['scoped', 'POST', '/graphql', GRAPHQL_READ],
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
  // The artifact API is the gateway's own under both of MLflow's prefixes: 501 here, without an `artifacts` section.
  ['reader', 'GET', '/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/a.txt'],
  ['reader', 'GET', '/ajax-api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/a.txt'],
  ['reader', 'GET', '/mlflow/ajax-api/2.0/mlflow-artifacts/artifacts?path=1'],
  ['reader', 'GET', '/api/2.0/mlflow%2Dartifacts/artifacts/1/r/artifacts/a.txt'],
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
      const document = row[3] === undefined ? '' : url.endsWith('/graphql') ? ` ${JSON.parse(row[3]).query.slice(0, 40)}` : ` --data ${row[3].slice(0, 60)}`;
      test(`${client ?? '(no credentials)'} ${method} ${url}${document}`, async () => {
        const explained = await explain(rules(), method, url, client, { graphql, ...(row[3] !== undefined ? { body: row[3] } : {}) });
        const before = lookups;
        const status = await throughGateway(app, row);
        if (explained.depends) {
          // explain names the lookup the verdict rests on; the gateway made it, and decided either way.
          expect(explained.lines.some((line) => line.startsWith('looks up'))).toBe(true);
          expect(lookups).toBeGreaterThan(before);
          expect([200, 403]).toContain(status);
          return;
        }
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
