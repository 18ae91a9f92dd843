// A bounded request loop in its own process, acting like clients behind an ALB: CONCURRENCY loops
// alternate an operation that stays allowed (POST experiments/search) with one a reload will refuse
// (GET experiments/get-by-name), and all stop sending once readiness fails (the ALB's health check
// would take the target out) or after MAX_SECONDS. Once readiness fails, each loop sends one more
// request, as an ALB routes requests to a target until its health checks notice: so requests that
// start after SIGTERM exist by the order of events, not because the machine happened to be fast. Prints one JSON line: every request's
// operation, start and end time and status (or network error).
//   bun test/support/load-loop.ts BASE_URL KEY [CONCURRENCY] [MAX_SECONDS]
const [base, key, concurrencyArg, maxSecondsArg] = process.argv.slice(2);
if (!base || !key) throw new Error('usage: load-loop.ts BASE_URL KEY [CONCURRENCY] [MAX_SECONDS]');
const concurrency = Number(concurrencyArg ?? 8);
const deadline = Date.now() + Number(maxSecondsArg ?? 60) * 1000;

export interface LoadResult {
  op: 'search' | 'get-by-name';
  start: number;
  end: number;
  status?: number;
  error?: string;
}

const results: LoadResult[] = [];
let stop = false;
const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };

async function one(op: LoadResult['op']): Promise<void> {
  const start = Date.now();
  try {
    const response =
      op === 'search'
        ? await fetch(`${base}/api/2.0/mlflow/experiments/search`, { method: 'POST', headers, body: '{"max_results":1}' })
        : await fetch(`${base}/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default`, { headers });
    await response.arrayBuffer();
    results.push({ op, start, end: Date.now(), status: response.status });
    // Progress on stderr, so a test can wait for "answered under the new rules" instead of sleeping.
    console.error(`DONE ${op} ${response.status}`);
  } catch (error) {
    results.push({ op, start, end: Date.now(), error: String(error) });
  }
}

let readinessFailed = false;

async function loop(): Promise<void> {
  let n = 0;
  while (!stop && Date.now() < deadline) await one(n++ % 2 === 0 ? 'search' : 'get-by-name');
  if (readinessFailed) await one('search');
}

async function watchReadiness(): Promise<void> {
  while (!stop && Date.now() < deadline) {
    try {
      if ((await fetch(`${base}/-/ready`)).status !== 200) readinessFailed = stop = true;
    } catch {
      stop = true;
    }
    await Bun.sleep(50);
  }
  stop = true;
}

console.error('LOAD STARTED');
await Promise.all([watchReadiness(), ...Array.from({ length: concurrency }, loop)]);
console.log(JSON.stringify({ results }));
