// The documentation is tested like code. The README's quick start runs as written on this checkout
// (a real `mlflow server` from the venv it names, the gateway through `npm run`, the SDK snippet with
// the venv's Python, curl, the browser sign-in it promises, and the stop step, which must end every
// process it started), and every `console` example of README.md and of each page in docs/ prints
// what the page shows. The commands come from the pages themselves, so an edit that breaks one fails
// here. Only what must change to run beside other tests changes, each substitution asserted to
// apply: MLflow's and the gateway's ports (free ones instead of 5000 and 8080), the quick start's
// data directory (a temp dir instead of .cache/quickstart), and the venv root ($PROXY_VENV_ROOT).
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanAwsEnv, freePort, REPO, tempDir, waitFor } from './support/processes.ts';
import { venvPython } from './support/mlflow.ts';
import { documentationFiles, fencedBlocks, section } from './support/markdown.ts';

setDefaultTimeout(240_000);

const README = readFileSync(join(REPO, 'README.md'), 'utf8');
const VENV_ROOT = process.env.PROXY_VENV_ROOT ?? join(REPO, '.cache', 'venvs');

const QUICK_START = fencedBlocks(section(README, 'Quick start'));
/** The `sh` blocks of the quick start, each run by a test below (named by the word after `sh`). */
const QUICK_START_TAGS = ['install', 'local-mlflow', 'use', 'stop', 'sagemaker'];

function quickStartBlock(tag: string): string {
  const block = QUICK_START.find((b) => b.info === `sh ${tag}`);
  if (!block) throw new Error(`README's quick start has no \`\`\`sh ${tag} block (found: ${QUICK_START.map((b) => b.info).join(', ')})`);
  return block.body;
}

/** Applies each replacement and fails when one no longer matches (the README changed under it). */
function substitute(script: string, replacements: Array<[pattern: RegExp, by: string]>): string {
  let out = script;
  for (const [pattern, by] of replacements) {
    expect({ pattern: String(pattern), matches: pattern.test(out) }).toEqual({ pattern: String(pattern), matches: true });
    out = out.replace(pattern, by);
  }
  return out;
}

/** Environment of a new shell: no AWS or MLflow variables, so only what the README sets counts. */
function shellEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  return cleanAwsEnv({ ...extra });
}

const groups: number[] = [];
afterAll(() => {
  // The quick start leaves MLflow and the gateway running in the background, as a user's shell
  // would, until its stop step: this is for a test that fails before it.
  for (const pid of groups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {}
  }
});

interface ScriptRun {
  /** The script's exit code, and what it and its background jobs had printed by then. */
  done: Promise<{ code: number | null; output: string }>;
  /** Everything printed so far, the background jobs' later lines included. */
  output(): string;
  /** Whether any process of the script's process group (its background jobs) is still alive. */
  groupAlive(): boolean;
}

/** Runs a script in bash (-e: the first failing command fails it) in its own process group. */
function runScript(script: string, env: Record<string, string | undefined>, timeoutMs: number): ScriptRun {
  const child = spawn('bash', ['-e', '-c', script], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  groups.push(child.pid!);
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const done = new Promise<{ code: number | null; output: string }>((resolve) => {
    const timer = setTimeout(() => {
      output += `\n(test: killed after ${timeoutMs} ms)`;
      process.kill(-child.pid!, 'SIGKILL');
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
  const groupAlive = () => {
    try {
      process.kill(-child.pid!, 0);
      return true;
    } catch {
      return false;
    }
  };
  return { done, output: () => output, groupAlive };
}

/** The shell variables a block reads (`$NAME`, `${NAME}`). */
function variablesRead(block: string): string[] {
  return [...new Set([...block.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!))];
}

describe('the README quick start', () => {
  test('installs with the commands CI runs and a setup-python.sh invocation for the MLflow version the quick start uses', () => {
    const install = quickStartBlock('install').split('\n').map((line) => line.replace(/#.*/, '').trim()).filter(Boolean);
    expect(install).toEqual(['npm ci', 'bash scripts/setup-python.sh 3.17.2']);
    // `npm ci` cannot run under the tests it installs: it is what .ci/run does first on a fresh machine.
    expect(readFileSync(join(REPO, '.ci/run'), 'utf8')).toMatch(/^npm ci\b/m);
    expect(quickStartBlock('local-mlflow')).toContain('.cache/venvs/mlflow-3.17.2/');
    // The setup line runs as written when the venvs are the checkout's own (npm test has built them,
    // so it only confirms the venv); a shared venv root given by PROXY_VENV_ROOT is left alone.
    if (process.env.PROXY_VENV_ROOT === undefined) {
      const run = spawnSync('bash', ['-e', '-c', install[1]!], { cwd: REPO, env: shellEnv(), encoding: 'utf8', timeout: 600_000 });
      expect({ code: run.status, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      expect(run.stdout).toContain('.cache/venvs/mlflow-3.17.2');
    }
  });

  test('runs as written: MLflow and the gateway start, the SDK logs a run, curl reads it, a browser signs in with the password, nothing is written into the checkout, and the stop step stops both at once', async () => {
    venvPython('3.17.2'); // a clear message when the venv is missing
    const [mlflowPort, gatewayPort] = [await freePort(), await freePort()];
    const data = tempDir('readme');
    // The stop step runs later in a shell of its own: the variables it reads (the PIDs) are passed
    // on from this one, as they would still be set in the user's shell.
    const stop = quickStartBlock('stop');
    const handOverFile = join(tempDir('readme-variables'), 'variables');
    const handOver = variablesRead(stop).map((name) => `echo "${name}=$${name}" >> '${handOverFile}'`).join('\n');
    const script = substitute(`${quickStartBlock('local-mlflow')}\n${quickStartBlock('use')}\n${handOver}`, [
      [/\.cache\/venvs\//g, `${VENV_ROOT}/`],
      [/\.cache\/quickstart/g, data],
      [/\b5000\b/g, String(mlflowPort)],
      [/\b8080\b/g, String(gatewayPort)],
    ]);
    // examples/local-mlflow.yaml listens on ${PORT:-8080}; the README's 8080 became a free port above.
    const started = runScript(script, shellEnv({ PORT: String(gatewayPort) }), 200_000);
    const { code, output } = await started.done;
    expect({ code, output }).toEqual({ code: 0, output: expect.stringContaining("MLflow's UI") });

    // curl's answer: the experiment the SDK snippet created.
    expect(output).toMatch(/"name":\s*"demo"/);
    const password = /password ([0-9a-f]{24})\)/.exec(output)?.[1];
    expect(password).toBeDefined();
    const base = `http://127.0.0.1:${gatewayPort}`;

    // A browser opening the UI is asked to sign in (Basic), then gets MLflow's page with the password.
    const challenged = await fetch(`${base}/`, { headers: { accept: 'text/html' } });
    expect(challenged.status).toBe(401);
    expect(challenged.headers.get('www-authenticate')).toContain('Basic');
    const basic = `Basic ${Buffer.from(`me:${password}`).toString('base64')}`;
    const page = await fetch(`${base}/`, { headers: { accept: 'text/html', authorization: basic } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('MLflow');

    // The UI's own API path (/ajax-api/, not rewritten for a local MLflow) finds the SDK's run and its metric.
    const experiment = (await (await fetch(`${base}/ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name=demo`, { headers: { authorization: basic } })).json()) as { experiment: { experiment_id: string } };
    const search = await fetch(`${base}/ajax-api/2.0/mlflow/runs/search`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/json' },
      body: JSON.stringify({ experiment_ids: [experiment.experiment.experiment_id] }),
    });
    const runs = ((await search.json()) as { runs: Array<{ data: { metrics: Array<{ key: string; value: number }> } }> }).runs;
    expect(runs.map((run) => run.data.metrics)).toEqual([[expect.objectContaining({ key: 'loss', value: 0.1 })]]);

    // MLflow wrote its database and artifacts where the quick start said (here: the temp dir).
    expect(existsSync(join(data, 'mlflow.db'))).toBe(true);
    for (const stray of ['mlflow.db', 'mlartifacts', 'mlruns']) expect(existsSync(join(REPO, stray))).toBe(false);

    // The stop step ends every process the quick start left running (the gateway, not only npm; MLflow
    // and its workers), and the gateway stops without a drain: nothing health-checks it on loopback.
    const variables = Object.fromEntries([...readFileSync(handOverFile, 'utf8').matchAll(/^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
    expect(Object.keys(variables).sort()).toEqual(variablesRead(stop).sort());
    const stopped = await runScript(stop, shellEnv(variables), 60_000).done;
    expect(stopped).toEqual({ code: 0, output: '' });
    await waitFor(() => !started.groupAlive(), 60_000);
    const gatewayLines = started
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{"level"'))
      .map((line) => JSON.parse(line) as { msg: string; drainSeconds?: number; signal?: string });
    expect(gatewayLines.find((line) => line.msg.startsWith('draining'))).toEqual(expect.objectContaining({ signal: 'SIGTERM', drainSeconds: 0 }));
    expect(gatewayLines.at(-1)).toEqual(expect.objectContaining({ msg: 'stopped', signal: 'SIGTERM' }));
  });

  test('the SageMaker lines name the variables the shipped rules.yaml reads (run with check in place of npm start)', () => {
    const script = substitute(quickStartBlock('sagemaker'), [[/\bnpm start$/m, 'npm run -s check']]);
    const run = spawnSync('bash', ['-e', '-c', `KEY=$(openssl rand -hex 32)\n${script}`], { cwd: REPO, env: shellEnv(), encoding: 'utf8', timeout: 60_000 });
    expect({ code: run.status, stderr: run.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(run.stdout).toContain('rules.yaml: OK');
    expect(run.stdout).toContain('SageMaker tracking-server arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/my-server');
  });
});

describe("the README's commands", () => {
  test('every sh block of the README is a quick-start block a test above runs', () => {
    const shBlocks = fencedBlocks(README).filter((block) => /^(sh|bash|shell)\b/.test(block.info));
    expect(shBlocks.map((block) => `README.md:${block.line} ${block.info}`)).toEqual(
      shBlocks.map((block) => `README.md:${block.line} sh ${QUICK_START_TAGS.find((tag) => block.info === `sh ${tag}`) ?? '(not one the tests run)'}`),
    );
    expect(QUICK_START.map((block) => block.info)).toEqual(QUICK_START_TAGS.map((tag) => `sh ${tag}`));
  });
});

// Every console example of the documentation: README.md and each page of docs/, found on disk, so
// a page another change adds is run without naming it here.
describe('the console examples of README.md and docs/', () => {
  const examples = documentationFiles().flatMap((file) =>
    fencedBlocks(readFileSync(join(REPO, file), 'utf8'))
      .filter((block) => block.info === 'console')
      .map((block) => ({ ...block, file })),
  );

  test('there are some (the explain examples)', () => {
    expect(examples.length).toBeGreaterThan(0);
  });

  for (const example of examples) {
    test(`${example.file}:${example.line} prints what it shows`, () => {
      // `$ command` lines, each followed by the output it shows; run in one shell, split by markers.
      const steps: Array<{ command: string; expected: string[] }> = [];
      for (const line of example.body.split('\n')) {
        if (line.startsWith('$ ')) steps.push({ command: line.slice(2), expected: [] });
        else steps.at(-1)?.expected.push(line);
      }
      const marker = 'README-TEST-STEP-END';
      // The marker starts a line of its own even after output without a final newline (trimmed below).
      const script = steps.map((step) => `${step.command}\nprintf '\\n${marker} %s\\n' "$?"`).join('\n');
      const run = spawnSync('bash', ['-c', script], { cwd: REPO, env: shellEnv(), encoding: 'utf8', timeout: 60_000 });
      const outputs = run.stdout.split(new RegExp(`^${marker} \\d+\\n?`, 'm'));
      const codes = [...run.stdout.matchAll(new RegExp(`^${marker} (\\d+)$`, 'gm'))].map((m) => Number(m[1]));
      expect({ stderr: run.stderr, codes }).toEqual({ stderr: '', codes: steps.map(() => 0) });
      steps.forEach((step, i) => {
        expect({ command: step.command, output: (outputs[i] ?? '').trimEnd() }).toEqual({ command: step.command, output: step.expected.join('\n').trimEnd() });
      });
    });
  }
});
