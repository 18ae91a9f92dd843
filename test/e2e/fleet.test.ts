// A local fleet as the reference architecture runs it: three gateway processes (`serve`, as systemd
// runs them) behind a real HAProxy standing in for the ALB (round robin, health check on /-/ready,
// X-Forwarded-For, kept-alive server connections), sharing their rate limits in a real
// redis-server, signing through the SageMaker data-plane stand-in (botocore verifies each
// signature) to a real MLflow. It shows that a client's limit holds across the fleet, that a
// rolling restart under steady load fails no request, and that the fleet keeps serving while the
// store is away and shares its limits again once it is back.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { MLFLOW_VERSIONS, startMlflow, venvPython } from '../support/mlflow.ts';
import { startDataPlane, type DataPlaneStandin } from '../support/standin.ts';
import { auditLines, cleanAwsEnv, freePort, startGateway, tempDir, waitFor, type Started } from '../support/processes.ts';
import { staticCredentials } from '../support/credentials.ts';
import { startValkey, type Valkey } from '../support/valkey.ts';
import { startHaproxy, type Balancer } from '../support/haproxy.ts';
import { parsePrometheus, sampleValue } from '../support/prometheus.ts';

setDefaultTimeout(180_000);

const ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/fleet';
const LIMITED_KEY = 'fleet-limited-key-0123456789abcdef';
const LOAD_KEY = 'fleet-load-key-0123456789abcdef';
const BURST = 6;
const SIGN_IN_BURST = 4;
const FLEET = 3;
// HAProxy takes a server out after 2 failed checks 200 ms apart; the drain (3 s) keeps serving well
// past that, with room for a busy machine (shutdown.drainSeconds must exceed interval x fall, the
// rules' own advice for the ALB). The store's timeoutMs is the largest allowed (1 s): a take that
// times out is decided locally, which on a loaded machine would let the limited client through.
const CHECK_MS = 200;
const FALL = 2;
const READ = '/api/2.0/mlflow/experiments/get?experiment_id=0';

interface Instance {
  name: string;
  port: number;
  metricsPort: number;
  process: Started;
}

let valkey: Valkey;
let mlflow: Started & { url: string };
let standin: DataPlaneStandin;
let balancer: Balancer;
let rulesFile: string;
const instances: Instance[] = [];
const env = (instance: Pick<Instance, 'port' | 'metricsPort'>) => {
  const creds = staticCredentials('FLEETSTATIC01');
  return cleanAwsEnv({
    AWS_ACCESS_KEY_ID: creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
    GATEWAY_PORT: String(instance.port),
    METRICS_PORT: String(instance.metricsPort),
  });
};

async function startInstance(instance: Omit<Instance, 'process'>): Promise<Instance> {
  return { ...instance, process: await startGateway(rulesFile, env(instance)) };
}

const call = (key: string, path = READ) => fetch(`${balancer.url}${path}`, { headers: { authorization: `Bearer ${key}` } });

/** Steady load through the balancer until stopped (or MAX_MS, so it always ends): every status or error. */
function steadyLoad(concurrency = 4, maxMs = 120_000) {
  const outcomes: Array<{ status?: number; error?: string }> = [];
  let stopped = false;
  const deadline = Date.now() + maxMs;
  const loop = async () => {
    while (!stopped && Date.now() < deadline) {
      try {
        const response = await call(LOAD_KEY);
        await response.arrayBuffer();
        outcomes.push({ status: response.status });
      } catch (error) {
        outcomes.push({ error: String(error) });
      }
    }
  };
  const running = Promise.all(Array.from({ length: concurrency }, loop));
  return {
    outcomes,
    async stop() {
      stopped = true;
      await running;
      return outcomes;
    },
  };
}

const failures = (outcomes: Array<{ status?: number; error?: string }>) => outcomes.filter((o) => o.status !== 200);

async function storeShared(instance: Instance): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${instance.metricsPort}/metrics`)).text();
  return sampleValue(parsePrometheus(text), 'sagemaker_mlflow_proxy_rate_limit_store_shared');
}

beforeAll(async () => {
  const version = MLFLOW_VERSIONS[0]!;
  [valkey, mlflow] = await Promise.all([startValkey(), startMlflow(version)]);
  standin = await startDataPlane(venvPython(version), ARN, mlflow.url);
  rulesFile = join(tempDir('fleet'), 'rules.yaml');
  // One rules file for the whole fleet, as every host gets the same; the ports come from each
  // process's environment, as the unit's EnvironmentFile would give them.
  writeFileSync(
    rulesFile,
    `version: 1
listen: {host: 127.0.0.1, port: "\${GATEWAY_PORT}", trustForwardedFor: true}
backend:
  arn: ${ARN}
  endpoint: http://127.0.0.1:${standin.port}
limits:
  store: {kind: valkey, url: "${valkey.url}", timeoutMs: 1000, probeSeconds: 0.3}
auth:
  failedSignInLimit: {requestsPerSecond: 0.001, burst: ${SIGN_IN_BURST}}
clients:
  - {id: limited, apiKeySha256: "${hashApiKey(LIMITED_KEY)}", policies: [reader], rateLimit: {requestsPerSecond: 0.001, burst: ${BURST}}}
  - {id: load, apiKeySha256: "${hashApiKey(LOAD_KEY)}", policies: [reader], rateLimit: {requestsPerSecond: 100000, burst: 100000}}
policies:
  reader: {operations: [GetExperiment]}
metrics: {enabled: true, host: 127.0.0.1, port: "\${METRICS_PORT}"}
shutdown: {drainSeconds: 3, finishSeconds: 5}
`,
  );
  const ports = await Promise.all(Array.from({ length: FLEET * 2 }, freePort));
  const started = await Promise.all(
    Array.from({ length: FLEET }, (_, i) => startInstance({ name: `g${i}`, port: ports[2 * i]!, metricsPort: ports[2 * i + 1]! })),
  );
  instances.push(...started);
  balancer = await startHaproxy(instances.map(({ name, port }) => ({ name, port })), { checkIntervalMs: CHECK_MS, fall: FALL });
  await balancer.allUp();
});

afterAll(async () => {
  await balancer?.stop();
  for (const instance of instances) await instance.process.stop();
  await standin?.stop();
  await mlflow?.stop();
  await valkey?.stop();
});

describe('a fleet of three gateways sharing one store', () => {
  test('every host counts in the shared store from the start', async () => {
    for (const instance of instances) {
      expect(instance.process.output()).toContain('rate limits are shared across the fleet');
      expect(await storeShared(instance)).toBe(1);
    }
  });

  test('a client\'s burst holds across the fleet: three hosts allow it once, not three times', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < BURST * FLEET; i++) statuses.push((await call(LIMITED_KEY)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(BURST);
    expect(statuses.filter((s) => s === 429)).toHaveLength(BURST * (FLEET - 1));
    // The balancer spread them: every host answered some of them.
    for (const instance of instances) expect(auditLines(instance.process.output()).some((l) => l.clientId === 'limited')).toBe(true);
  });

  test('failed sign-ins are counted for the fleet: a guesser gets the burst and one more try per host, then 429 everywhere', async () => {
    // The guesser comes from its own address (127.0.0.2, through curl): the block is per address,
    // and HAProxy's X-Forwarded-For carries it to the gateways, which trust it.
    const statuses: number[] = [];
    for (let i = 0; i < SIGN_IN_BURST * FLEET; i++) {
      const run = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--interface', '127.0.0.2', '-H', 'authorization: Bearer wrong-key-0123456789abcdef', `${balancer.url}${READ}`], { encoding: 'utf8', timeout: 30_000 });
      statuses.push(Number(run.stdout));
    }
    const tries = statuses.filter((s) => s === 401).length;
    // Per host it would be SIGN_IN_BURST each; shared, each host lets one more through before it
    // has seen the empty bucket itself (limits/sign-in-failures.ts blocks per host).
    expect(tries).toBeGreaterThanOrEqual(SIGN_IN_BURST);
    expect(tries).toBeLessThanOrEqual(SIGN_IN_BURST + FLEET);
    expect(statuses.slice(-FLEET)).toEqual(Array(FLEET).fill(429));
    // Other addresses are not blocked.
    expect((await call(LOAD_KEY)).status).toBe(200);
    for (const instance of instances) expect(auditLines(instance.process.output()).some((l) => l.clientIp === '127.0.0.2')).toBe(true);
  });

  test('a rolling restart of every instance in turn under steady load fails no request', async () => {
    const load = steadyLoad();
    for (let i = 0; i < instances.length; i++) {
      const old = instances[i]!;
      const before = load.outcomes.length;
      // SIGTERM: readiness fails, HAProxy takes it out, the listener closes after the drain.
      await old.process.stop();
      expect(old.process.output()).toContain('"msg":"stopped"');
      instances[i] = await startInstance(old);
      await balancer.allUp();
      // The restarted host serves its share before the next one goes.
      const serving = instances[i]!;
      await waitFor(() => auditLines(serving.process.output()).some((l) => l.clientId === 'load' && l.status === 200), 30_000);
      expect(load.outcomes.length).toBeGreaterThan(before);
    }
    const outcomes = await load.stop();
    expect(outcomes.length).toBeGreaterThan(50);
    expect(failures(outcomes)).toEqual([]);
  });

  test('with the store stopped mid-run the fleet keeps serving on local buckets, and shares again once it is back', async () => {
    const load = steadyLoad();
    await waitFor(() => load.outcomes.length > 20);
    await valkey.stop();
    // Each host notices on its next request, says so once, and keeps answering.
    await waitFor(() => instances.every((i) => i.process.output().includes('rate-limit store unreachable')), 30_000);
    const whileAway = load.outcomes.length;
    await waitFor(() => load.outcomes.length > whileAway + 50, 30_000);
    for (const instance of instances) expect(await storeShared(instance)).toBe(0);

    await valkey.restart();
    await waitFor(() => instances.every((i) => i.process.output().includes('rate-limit store answers again')), 30_000);
    const outcomes = await load.stop();
    expect(failures(outcomes)).toEqual([]);
    for (const instance of instances) {
      const output = instance.process.output();
      // Once per transition, not once per request.
      expect(output.split('rate-limit store unreachable').length - 1).toBe(1);
      expect(output.split('rate-limit store answers again').length - 1).toBe(1);
      expect(await storeShared(instance)).toBe(1);
    }
    // Shared again: the restarted store starts with a full bucket, and the fleet allows it once.
    const statuses: number[] = [];
    for (let i = 0; i < BURST * FLEET; i++) statuses.push((await call(LIMITED_KEY)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(BURST);
  });
});
