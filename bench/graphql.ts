// What deciding a GraphQL request costs, against deciding the REST call it stands for, in one
// invocation: the UI's run-page document (MLflow 3.17, GetRun with the experiment and model
// versions nested) parsed with `graphql` and authorized operation by operation, against the
// operation lookup + authorize of `GET /api/2.0/mlflow/runs/get`. In-process and single-threaded:
// this is the gateway CPU the check adds per UI request, to set beside the gateway's whole cost
// per request (bench/auth.ts: about 40 µs on this machine).
//
//   bun bench/graphql.ts          (about 20 s; BENCH_SECONDS=3 per measurement, BENCH_ROUNDS=3)
import { graphqlOperations } from '../src/pipeline/graphql.ts';
import { authorize, authorizeEach } from '../src/pipeline/authorize.ts';
import { operationFor } from '../src/rules/operations.ts';
import { loadRulesText } from '../src/rules/load.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const loaded = loadRulesText(`version: 1
backend: {url: "http://127.0.0.1:9"}
clients: [{id: viewer, apiKeySha256: "${'a'.repeat(64)}", policies: [ro]}]
policies: {ro: {operations: ["Get*", "Search*", "List*", AccessUI]}}
`, 'bench.yaml', {});
if (!loaded.ok) throw new Error('bench rules invalid');
const viewer = loaded.rules.clientsById.get('viewer')!;

const UI_GET_RUN = `query GetRun($data: MlflowGetRunInput!) @component(name: "MLflow.ExperimentRunTracking") {
  mlflowGetRun(input: $data) { apiError { code message __typename }
    run { info { runName runUuid experimentId status startTime endTime lifecycleStage artifactUri __typename }
      experiment { experimentId name tags { key value __typename } artifactLocation lifecycleStage lastUpdateTime __typename }
      modelVersions { status version name source __typename }
      data { metrics { key value step timestamp __typename } params { key value __typename } tags { key value __typename } __typename }
      inputs { datasetInputs { dataset { digest name profile schema source sourceType __typename } tags { key value __typename } __typename } __typename }
      outputs { modelOutputs { modelId step __typename } __typename } __typename } __typename } }`;
const body = new TextEncoder().encode(JSON.stringify({ query: UI_GET_RUN, operationName: 'GetRun', variables: { data: { runId: 'abc' } } }));

function rest(): boolean {
  const path = '/api/2.0/mlflow/runs/get';
  return authorize(viewer, 'GET', path, operationFor('GET', path)).allowed;
}

function graphql(): boolean {
  const asked = graphqlOperations('POST', body);
  return asked.ok && authorizeEach(viewer, asked.operations, 'GraphQL').allowed;
}

/** Nanoseconds per call over SECONDS of back-to-back calls (after a warm-up). */
function measure(fn: () => boolean): number {
  for (let i = 0; i < 2000; i++) fn();
  let calls = 0;
  const start = Bun.nanoseconds();
  const end = start + SECONDS * 1e9;
  while (Bun.nanoseconds() < end) {
    for (let i = 0; i < 100; i++) if (!fn()) throw new Error('the bench request was refused');
    calls += 100;
  }
  return (Bun.nanoseconds() - start) / calls;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const restNs: number[] = [];
const graphqlNs: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  restNs.push(measure(rest));
  graphqlNs.push(measure(graphql));
}
const r = median(restNs) / 1000;
const g = median(graphqlNs) / 1000;
console.log(`document ${body.byteLength} bytes; medians of ${ROUNDS} rounds × ${SECONDS} s`);
console.log(`REST   GET runs/get  decide: ${r.toFixed(2)} µs`);
console.log(`GraphQL GetRun       decide: ${g.toFixed(2)} µs  (${(g / r).toFixed(1)}× the REST decision; +${(g - r).toFixed(1)} µs per UI request)`);
