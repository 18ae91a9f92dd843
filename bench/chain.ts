// What the stage chain itself costs per request (pipeline/chain.ts): the longest stage list
// server.ts builds (14 stages), each doing nothing but calling the next, async where the real stage
// is an async function, against the same terminal answer called directly. Both in this process, interleaved rounds, medians of CPU time.
//
//   bun bench/chain.ts          (a few seconds)     BENCH_CALLS=200000 BENCH_ROUNDS=5
import { chain, type Stage } from '../src/pipeline/chain.ts';
import { receive } from '../src/pipeline/receive.ts';

const CALLS = Number(process.env.BENCH_CALLS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const answer = new Response('{}');
const terminal: Stage = async () => answer;
const passSync: Stage = (scope, next) => next(scope);
const passAsync: Stage = async (scope, next) => await next(scope);
// The real list's shape, in order: auditLine, errorPage (async), requestFraming, hostCheck (sync),
// authentication (async), rateLimiting, uiEntry, rewriting (sync when they pass a request on),
// bodyBudgeting, authorization (async), upstreamHeaderSelection (sync), artifactApi,
// sageMakerSigning (async), forwarding.
const stages: Stage[] = [
  passAsync, passAsync, passSync, passSync, passAsync, passSync, passSync, passSync, passAsync, passAsync, passSync, passAsync, passAsync, terminal,
];
const composed = chain(stages);
const request = new Request('http://gw/api/2.0/mlflow/experiments/get?experiment_id=1');

const cpuMicros = () => {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
};

async function measure(run: () => Promise<Response>): Promise<number> {
  const start = cpuMicros();
  for (let i = 0; i < CALLS; i++) await run();
  return (cpuMicros() - start) / CALLS;
}

const direct: number[] = [];
const chained: number[] = [];
// Both create the scope, as every request does; only the chain differs.
const viaChain = () => composed(receive(request, '127.0.0.1', false));
const withoutChain = () => terminal(receive(request, '127.0.0.1', false), composed);
await measure(viaChain);
await measure(withoutChain);
for (let round = 0; round < ROUNDS; round++) {
  direct.push(await measure(withoutChain));
  chained.push(await measure(viaChain));
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const cost = median(chained) - median(direct);
console.log(`stage chain (${stages.length} stages): ${median(chained).toFixed(3)} µs CPU/call, without: ${median(direct).toFixed(3)} µs; the chain costs ${cost.toFixed(3)} µs per request (target ≤ 1 µs: ${cost <= 1 ? 'PASS' : 'MISS'})`);
