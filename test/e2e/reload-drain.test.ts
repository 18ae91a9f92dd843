// Under continuous load from a second process: a reload with a valid file (that refuses one
// operation), a reload with a broken file, then SIGTERM with requests in flight. No request fails
// except those the new rules refuse, and the gateway exits 0 after its drain.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { MLFLOW_VERSIONS, startMlflow, venvPython } from '../support/mlflow.ts';
import { startDataPlane, type DataPlaneStandin } from '../support/standin.ts';
import { BUN, cleanAwsEnv, REPO, startGateway, tempDir, waitFor, type Started } from '../support/processes.ts';
import { staticCredentials } from '../support/credentials.ts';
import type { LoadResult } from '../support/load-loop.ts';

setDefaultTimeout(180_000);

const ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/load';
const KEY = 'load-key-0123456789abcdef';
// Long enough for the load loop's last requests after readiness fails, on a busy machine too.
const DRAIN_SECONDS = 5;
const FINISH_SECONDS = 5;

function rules(standinPort: number, operations: string[]): string {
  return `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {arn: ${ARN}, endpoint: "http://127.0.0.1:${standinPort}"}
clients:
  - {id: loader, apiKeySha256: "${hashApiKey(KEY)}", policies: [loader]}
policies:
  loader: {operations: [${operations.join(', ')}]}
shutdown: {drainSeconds: ${DRAIN_SECONDS}, finishSeconds: ${FINISH_SECONDS}}
`;
}

let mlflow: Started & { url: string };
let standin: DataPlaneStandin;
beforeAll(async () => {
  mlflow = await startMlflow(MLFLOW_VERSIONS[0]!);
  standin = await startDataPlane(venvPython(MLFLOW_VERSIONS[0]!), ARN, mlflow.url);
});
afterAll(async () => {
  await standin?.stop();
  await mlflow?.stop();
});

function logTime(output: string, msg: string): number {
  const line = output.split('\n').find((l) => l.includes(`"msg":"${msg}`));
  if (!line) throw new Error(`no "${msg}" line in:\n${output.slice(-2000)}`);
  return Date.parse(JSON.parse(line).ts);
}


describe('reloads and drain under load', () => {
  test('valid reload, broken reload, SIGTERM: only the newly refused operation fails, exit 0 after the drain', async () => {
    const file = join(tempDir('load-rules'), 'rules.yaml');
    writeFileSync(file, rules(standin.port, ['SearchExperiments', 'GetExperimentByName']));
    const creds = staticCredentials('LOAD00000001');
    const gateway = await startGateway(file, cleanAwsEnv({ AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey }));
    const base = `http://127.0.0.1:${gateway.port}`;
    try {
      const load = spawn(BUN, [join(REPO, 'test/support/load-loop.ts'), base, KEY, '8', '60'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      load.stdout.on('data', (c) => (stdout += c));
      load.stderr.on('data', (c) => (stderr += c));
      const loadDone = new Promise<void>((done) => load.once('close', () => done())); // its stdout read to the end
      const answered = (op: string, status: number, after = 0) => stderr.slice(after).includes(`DONE ${op} ${status}`);
      // Load runs before, between and after each step: wait for answers, not for time to pass.
      await waitFor(() => answered('search', 200) && answered('get-by-name', 200), 60_000);

      const beforeReload = Date.now();
      writeFileSync(file, rules(standin.port, ['SearchExperiments']));
      gateway.child.kill('SIGHUP');
      await waitFor(() => gateway.output().includes('"msg":"rules reloaded"'));
      await waitFor(() => answered('get-by-name', 403), 60_000);

      writeFileSync(file, `${rules(standin.port, ['SearchExperiments'])}policies: {oops\n`);
      gateway.child.kill('SIGHUP');
      await waitFor(() => gateway.output().includes('rules reload refused'));
      const refusedAt = stderr.length;
      await waitFor(() => answered('search', 200, refusedAt) && answered('get-by-name', 403, refusedAt), 60_000);
      await waitFor(() => (stderr.match(/DONE /g)?.length ?? 0) > 60, 60_000);

      // 'close' (its output read to the end), not 'exit': the log lines below are read after it.
      const exited = new Promise<{ code: number | null; at: number }>((done) => gateway.child.once('close', (code) => done({ code, at: Date.now() })));
      const sigterm = Date.now();
      gateway.child.kill('SIGTERM');
      const { code, at } = await Promise.race([
        exited,
        Bun.sleep((DRAIN_SECONDS + FINISH_SECONDS + 10) * 1000).then(() => ({ code: -1, at: Date.now() })),
      ]);
      await loadDone;

      expect(code).toBe(0);
      // It waited out the drain period (not a timing benchmark: the drain is the behaviour under test).
      expect(at - sigterm).toBeGreaterThanOrEqual(DRAIN_SECONDS * 1000);
      const output = gateway.output();
      const reloadedAt = logTime(output, 'rules reloaded');
      expect(output).toMatch(new RegExp(`"msg":"rules reload refused.*${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: \\(file\\): YAML`));
      expect(output).toMatch(/"msg":"stopped","ts":"[^"]+","signal":"SIGTERM","finished":true/);

      const { results } = JSON.parse(stdout) as { results: LoadResult[] };
      expect(results.length).toBeGreaterThan(50);
      const failures = results.filter((r) => r.error !== undefined || (r.status !== 200 && r.status !== 403));
      expect(failures).toEqual([]);
      // The allowed operation never failed, across both reloads and the drain.
      expect(results.filter((r) => r.op === 'search' && r.status !== 200)).toEqual([]);
      // The refused one: allowed under the old rules, refused once the new rules were in force.
      const byName = results.filter((r) => r.op === 'get-by-name');
      expect(byName.filter((r) => r.end < beforeReload && r.status !== 200)).toEqual([]);
      expect(byName.filter((r) => r.start > reloadedAt && r.status !== 403)).toEqual([]);
      expect(byName.some((r) => r.status === 403)).toBe(true);
      // Requests kept being answered after SIGTERM, during the drain (the loop sends one per
      // connection after readiness fails, as an ALB does before its health checks notice).
      expect(results.filter((r) => r.start > sigterm && r.status === 200).length).toBeGreaterThanOrEqual(8);
      expect(standin.log().filter((l) => l.verdict !== 'forwarded')).toEqual([]);
    } finally {
      await gateway.stop();
    }
  });

  test('serve --watch reloads when the rules file is replaced (as editors and config tools do)', async () => {
    const dir = tempDir('watch-rules');
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, rules(standin.port, ['SearchExperiments']));
    const creds = staticCredentials('LOAD00000002');
    const env = cleanAwsEnv({ AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey });
    const gateway = await startGateway(file, env, ['--watch']);
    try {
      writeFileSync(join(dir, 'rules.yaml.tmp'), rules(standin.port, ['SearchExperiments', 'GetExperimentByName']));
      const { renameSync } = await import('node:fs');
      renameSync(join(dir, 'rules.yaml.tmp'), file);
      await waitFor(() => gateway.output().includes('"trigger":"file change"'));
      const response = await fetch(`http://127.0.0.1:${gateway.port}/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default`, {
        headers: { authorization: `Bearer ${KEY}` },
      });
      expect(response.status).toBe(200);
    } finally {
      await gateway.stop();
    }
  });
});
