// What authentication costs: throughput of the gateway with no credentials (anonymous access),
// with an API key, with a JWT and with HTTP Basic, in one invocation, as ratios to the no-auth
// run. Targets (issue "Who may call what"): API keys cost ≤ 10 % of throughput, JWTs ≤ 20 %.
//
//   bun bench/auth.ts                  (about 1.5 minutes with the defaults)
//
// One gateway serves all four (anonymous access and the three client kinds in one rules file), in
// front of bench/upstream.ts, signing for a SageMaker tracking server as in production. The modes
// are measured in interleaved rounds so that drift on this shared machine hits them all alike.
// The MLflow client sends the same credential on every call, so each mode reuses one credential:
// the JWT's signature and the password's scrypt are checked once, then remembered (that cache is
// what is measured; a cold check is reported separately).
//
// Environment: BENCH_SECONDS=5 per run, BENCH_ROUNDS=3, BENCH_CONNECTIONS=32.
import { spawn } from 'bun';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hashApiKey } from '../src/auth/api-key.ts';
import { hashPassword } from '../src/auth/password.ts';
import { startOidcIssuer } from '../test/standins/oidc-issuer.ts';

const ROOT = resolve(import.meta.dir, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const TARGETS = { 'api-key': 0.9, jwt: 0.8 } as Record<string, number>;
const PATH = '/api/2.0/mlflow/experiments/get?experiment_id=1';
const log = (...a: unknown[]) => console.error('bench:', ...a);

const children: Array<ReturnType<typeof spawn>> = [];
const tmp = mkdtempSync(join(tmpdir(), 'mlflow-proxy-bench-auth-'));
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

let gatewayPid = 0;

async function startListening(name: string, command: string[], env: Record<string, string>): Promise<number> {
  const child = spawn(command, { cwd: tmp, env, stdin: 'pipe', stdout: 'pipe', stderr: 'inherit' });
  children.push(child);
  if (name === 'gateway') gatewayPid = child.pid;
  const reader = child.stdout.getReader();
  let text = '';
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
    const match = /"event":"listening".*?"port":(\d+)/.exec(text);
    if (match) {
      // Keep draining (audit lines) so the child never blocks on a full pipe.
      (async () => { while (!(await reader.read()).done); })();
      return Number(match[1]);
    }
  }
  throw new Error(`${name} did not start:\n${text}`);
}

/** One saturated run: req/s, and the gateway's CPU microseconds per request (robust to other load on the machine). */
async function load(headers: Record<string, string>, url: string): Promise<{ rps: number; cpuUsPerRequest: number }> {
  const cpuBefore = cpuSeconds(gatewayPid);
  const job = JSON.stringify({ url, method: 'GET', headers, connections: CONNECTIONS, duration: SECONDS });
  const worker = spawn(['node', join(ROOT, 'bench/load-worker.mjs'), job], { cwd: ROOT, stdout: 'pipe', stderr: 'inherit' });
  const output = await new Response(worker.stdout).text();
  await worker.exited;
  const result = JSON.parse(output.trim().split('\n').pop()!);
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`non-2xx answers or errors: ${output}`);
  return { rps: result.rps, cpuUsPerRequest: ((cpuSeconds(gatewayPid) - cpuBefore) * 1e6) / result.total };
}

async function main() {
  const issuer = await startOidcIssuer();
  const apiKey = `bench-key-${crypto.randomUUID()}`;
  const password = `bench password ${crypto.randomUUID()}`;
  const baseEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmp, NO_COLOR: '1' };
  const upstreamPort = await startListening('upstream', [process.execPath, join(ROOT, 'bench/upstream.ts')], baseEnv);
  const rules = join(tmp, 'rules.yaml');
  writeFileSync(rules, `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {arn: "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/bench", endpoint: "http://127.0.0.1:${upstreamPort}"}
auth:
  jwt: [{issuer: "${issuer.issuer}", audiences: [bench]}]
anonymous: {policies: [read]}
clients:
  - {id: key-client, apiKeys: [{sha256: "${hashApiKey(apiKey)}", expires: "2099-01-01"}], policies: [read]}
  - {id: basic-client, passwordHash: "${await hashPassword(password)}", policies: [read]}
  - {id: jwt-client, subjects: [bench-subject], policies: [read]}
policies:
  read: {operations: [GetExperiment]}
`);
  const gatewayPort = await startListening('gateway', [process.execPath, join(ROOT, 'src/main.ts'), 'serve', '--rules', rules], {
    ...baseEnv,
    AWS_ACCESS_KEY_ID: 'AKIABENCHEXAMPLE0001',
    AWS_SECRET_ACCESS_KEY: 'benchSecretKeyExample0000000000000000000',
    AWS_EC2_METADATA_DISABLED: 'true',
  });
  const url = `http://127.0.0.1:${gatewayPort}${PATH}`;
  const token = await issuer.sign({ sub: 'bench-subject', aud: 'bench' }, { expiresInSeconds: 3600 });
  const modes: Record<string, Record<string, string>> = {
    none: {},
    'api-key': { authorization: `Bearer ${apiKey}` },
    jwt: { authorization: `Bearer ${token}` },
    basic: { authorization: `Basic ${Buffer.from(`basic-client:${password}`).toString('base64')}` },
  };

  // Cold checks: the first request with each credential pays its full verification.
  const cold: Record<string, number> = {};
  for (const [mode, headers] of Object.entries(modes)) {
    const started = performance.now();
    const response = await fetch(url, { headers });
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`${mode}: status ${response.status}`);
    cold[mode] = performance.now() - started;
  }
  log('warm-up');
  for (const headers of Object.values(modes)) await load(headers, url);

  const rps: Record<string, number[]> = Object.fromEntries(Object.keys(modes).map((m) => [m, []]));
  const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(modes).map((m) => [m, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [mode, headers] of Object.entries(modes)) {
      const run = await load(headers, url);
      rps[mode]!.push(run.rps);
      cpu[mode]!.push(run.cpuUsPerRequest);
      log(`round ${round} ${mode}: ${run.rps.toFixed(0)} req/s, gateway ${run.cpuUsPerRequest.toFixed(1)} µs CPU/request`);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const baseline = median(rps.none!);
  const baselineCpu = median(cpu.none!);
  console.log(`\nAuthentication cost: GET ${PATH}, ${CONNECTIONS} connections, ${ROUNDS} × ${SECONDS} s per mode, medians`);
  console.log('The CPU ratio (no-auth CPU per request / this mode\'s) is the throughput ratio a gateway-bound host would see;');
  console.log('it is far less sensitive than req/s to other work on this shared machine.');
  console.log('mode      req/s  req/s ratio  µs CPU/req  CPU ratio  target      first request (cold check)');
  for (const mode of Object.keys(modes)) {
    const value = median(rps[mode]!);
    const cpuValue = median(cpu[mode]!);
    const cpuRatio = baselineCpu / cpuValue;
    const target = TARGETS[mode];
    const verdict = target === undefined ? '          ' : `${cpuRatio >= target ? 'PASS' : 'MISS'} ≥${target.toFixed(2)}`;
    console.log(
      `${mode.padEnd(8)}  ${value.toFixed(0).padStart(5)}  ${(value / baseline).toFixed(3).padStart(11)}  ${cpuValue.toFixed(1).padStart(10)}  ${cpuRatio.toFixed(3).padStart(9)}  ${verdict}  ${cold[mode]!.toFixed(1)} ms`,
    );
  }
  issuer.stop();
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
