// Which MLflow operations a GraphQL request performs, and how the allowlist decides it: every one of
// them must be allowed. Documents are the UI's own (captured through the gateway) and the forms a
// hand-written scanner would miss.
import { describe, expect, test } from 'bun:test';
import { graphqlOperations } from '../../src/pipeline/graphql.ts';
import { authorizeEach } from '../../src/pipeline/authorize.ts';
import { rulesFrom } from '../support/rules.ts';

const body = (query: unknown, extra: Record<string, unknown> = {}) => new TextEncoder().encode(JSON.stringify({ query, ...extra }));
const operationsOf = (query: string) => {
  const result = graphqlOperations('POST', body(query));
  return result.ok ? result.operations : `${result.error.status} ${result.error.errorCode}`;
};

// MLflow 3.17's UI, run page (trimmed): GetRun with the run's experiment and model versions nested.
const UI_GET_RUN = `query GetRun($data: MlflowGetRunInput!) @component(name: "MLflow.ExperimentRunTracking") {
  mlflowGetRun(input: $data) { apiError { code message __typename }
    run { info { runName runUuid __typename } experiment { experimentId name __typename }
      modelVersions { status version name __typename } data { metrics { key value step } params { key value } } __typename } } }`;

describe('a GraphQL document is the MLflow operations its fields perform', () => {
  const cases: Array<[string, string, string[] | string]> = [
    ['the UI\'s experiment query', 'query Q($input: MlflowGetExperimentInput!) { mlflowGetExperiment(input: $input) { experiment { name } } }', ['GetExperiment']],
    ['the UI\'s run query, with the calls its nested experiment and modelVersions make', UI_GET_RUN, ['GetExperiment', 'GetRun', 'SearchModelVersions']],
    ['a search declared as a mutation is still SearchRuns', 'mutation S($i: MlflowSearchRunsInput) { mlflowSearchRuns(input: $i) { runs { info { runUuid } } } }', ['SearchRuns']],
    ['metric history, artifacts, datasets', '{ mlflowGetMetricHistoryBulkInterval(input: {}) { metrics { key } } mlflowListArtifacts(input: {}) { files { path } } } mutation { mlflowSearchDatasets(input: {}) { datasetSummaries { name } } }', ['GetMetricHistoryBulkInterval', 'ListArtifacts', 'SearchDatasets']],
    ['an alias does not hide the field it names', '{ harmless: mlflowSearchModelVersions(input: {}) { modelVersions { name } } }', ['SearchModelVersions']],
    ['a root field inside a fragment spread is found', 'query { ...Root } fragment Root on Query { mlflowGetRun(input: {}) { run { info { runUuid } } } }', ['GetRun']],
    ['a root field inside an inline fragment is found', '{ ... on Query { mlflowListArtifacts(input: {}) { files { path } } } }', ['ListArtifacts']],
    ['a nested call inside a fragment is found', 'query { mlflowSearchRuns(input: {}) { runs { ...R } } } fragment R on MlflowRunExtension { experiment { name } }', ['GetExperiment', 'SearchRuns']],
    ['every operation of a multi-operation document counts, whichever operationName picks', 'query A { mlflowGetRun(input: {}) { run { info { runUuid } } } } query B { mlflowGetExperiment(input: {}) { experiment { name } } }', ['GetExperiment', 'GetRun']],
    ['__typename at the root performs nothing', '{ __typename mlflowGetRun(input: {}) { run { info { runUuid } } } }', ['GetRun']],
    ['a field the gateway does not know is refused', '{ test(inputString: "x") { output } }', '403 PERMISSION_DENIED'],
    ['an unknown field next to a known one is refused', '{ mlflowGetRun(input: {}) { run { info { runUuid } } } mlflowDeleteRun(input: {}) { ok } }', '403 PERMISSION_DENIED'],
    ['introspection is refused (__schema)', '{ __schema { types { name } } }', '403 PERMISSION_DENIED'],
    ['introspection is refused (__type)', '{ __type(name: "Query") { name } }', '403 PERMISSION_DENIED'],
    ['subscriptions are refused', 'subscription { mlflowGetRun(input: {}) { run { info { runUuid } } } }', '403 PERMISSION_DENIED'],
    ['a document of only __typename performs no operation', '{ __typename }', '400 BAD_REQUEST'],
    ['garbage is refused', 'mlflowGetRun(', '400 BAD_REQUEST'],
    ['an undefined fragment is refused', '{ ...Missing }', '400 BAD_REQUEST'],
    ['a fragment that spreads itself ends', '{ mlflowGetRun(input: {}) { ...Loop } } fragment Loop on X { experiment { ...Loop } }', ['GetExperiment', 'GetRun']],
    ['a schema definition is not a request', 'type Query { x: Int }', '400 BAD_REQUEST'],
  ];
  for (const [sentence, query, expected] of cases) {
    test(sentence, () => expect(operationsOf(query)).toEqual(expected));
  }

  test('fragments spread twice at every level are expanded once (no exponential walk)', () => {
    const levels = 40;
    const fragments = Array.from({ length: levels }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join(' ');
    const query = `{ ...F0 } ${fragments} fragment F${levels} on Query { mlflowGetRun(input: {}) { run { info { runUuid } } } }`;
    expect(operationsOf(query)).toEqual(['GetRun']);
  });

  const badBodies: Array<[string, string, Uint8Array | undefined]> = [
    ['no body', 'POST', undefined],
    ['a body that is not JSON', 'POST', new TextEncoder().encode('query { mlflowGetRun }')],
    ['a JSON array (a batch)', 'POST', new TextEncoder().encode('[{"query":"{ __typename }"}]')],
    ['a query that is not a string', 'POST', body(42)],
    ['a body that is not UTF-8 (UTF-16, which Python would still read)', 'POST', new Uint8Array([0xff, 0xfe, 0x7b, 0x00])],
    ['a GET, whose body the gateway does not read', 'GET', body('{ mlflowGetRun(input: {}) { run { info { runUuid } } } }')],
  ];
  for (const [sentence, method, bytes] of badBodies) {
    test(`${sentence} is refused with 400`, () => {
      const result = graphqlOperations(method, bytes);
      expect(result.ok ? 'allowed' : result.error.status).toBe(400);
    });
  }

  test('a document over the token limit is refused before it is walked', () => {
    const query = `{ ${Array.from({ length: 6000 }, (_, i) => `a${i}: mlflowGetRun(input: {}) { run { info { runUuid } } }`).join(' ')} }`;
    expect(operationsOf(query)).toBe('400 BAD_REQUEST');
  });
});

describe('a GraphQL request is allowed only when each of its operations is', () => {
  const rules = rulesFrom(`version: 1
backend: {url: "http://127.0.0.1:5000"}
clients:
  - {id: reader, apiKeySha256: "${'1'.repeat(64)}", policies: [read-only]}
  - {id: runs-only, apiKeySha256: "${'2'.repeat(64)}", policies: [runs]}
  - {id: by-path, apiKeySha256: "${'3'.repeat(64)}", policies: [paths]}
policies:
  read-only: {operations: ["Get*", "Search*", "List*"]}
  runs: {operations: [GetRun]}
  paths: {allow: [{methods: [GET], paths: ["/api/2.0/mlflow/runs/**", "/api/2.0/mlflow/experiments/**", "/api/2.0/mlflow/model-versions/**"]}]}
`);
  const client = (id: string) => rules.clientsById.get(id)!;
  const label = 'GraphQL:GetExperiment,GetRun,SearchModelVersions';
  const ops = ['GetExperiment', 'GetRun', 'SearchModelVersions'];

  test('a reader may run the UI\'s run query; the audit names every operation', () => {
    const decision = authorizeEach(client('reader'), ops, label);
    expect(decision).toMatchObject({ allowed: true, operation: label, policy: 'read-only' });
  });
  test('a client allowed GetRun alone may not, because the query also reads the experiment', () => {
    const decision = authorizeEach(client('runs-only'), ops, label);
    expect(decision).toMatchObject({ allowed: false, operation: label, denied: 'GetExperiment' });
  });
  test('path rules decide each operation on its REST route', () => {
    expect(authorizeEach(client('by-path'), ops, label).allowed).toBe(true);
    expect(authorizeEach(client('by-path'), ['SearchRuns'], 'GraphQL:SearchRuns').allowed).toBe(false); // POST runs/search
  });
});
