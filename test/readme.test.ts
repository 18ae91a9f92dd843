// The README is tested like code: its quick start runs as written on this checkout (a real
// `mlflow server` from the venv it names, the gateway through `npm run`, the SDK snippet with the
// venv's Python, curl, and the browser sign-in it promises), and every `console` example prints what
// the README shows. The commands come from the README text itself, so an edit that breaks one fails
// here. Only what must change to run beside other tests changes, each substitution asserted to
// apply: MLflow's and the gateway's ports (free ones instead of 5000 and 8080), the quick start's
// data directory (a temp dir instead of .cache/quickstart), and the venv root ($PROXY_VENV_ROOT).
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanAwsEnv, freePort, REPO, tempDir } from './support/processes.ts';
import { venvPython } from './support/mlflow.ts';

setDefaultTimeout(240_000);

const README = readFileSync(join(REPO, 'README.md'), 'utf8');
const VENV_ROOT = process.env.PROXY_VENV_ROOT ?? join(REPO, '.cache', 'venvs');

interface Block {
  /** The info string after the fence: `sh local-mlflow`, `console`. */
  info: string;
  body: string;
  /** 1-based line of the opening fence, for failure messages. */
  line: number;
}

/** Fenced code blocks of a Markdown text (``` fences, as the README uses; indented ones included). */
function fencedBlocks(text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*```(\S.*)?$/.exec(lines[i]!);
    if (!open) continue;
    const indent = lines[i]!.length - lines[i]!.trimStart().length;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]!); i++) body.push(lines[i]!.slice(indent));
    blocks.push({ info: (open[1] ?? '').trim(), body: body.join('\n'), line: start + 1 });
  }
  return blocks;
}

function section(text: string, heading: string): string {
  const start = text.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README has no "## ${heading}" section`);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

const QUICK_START = fencedBlocks(section(README, 'Quick start'));

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
  // The quick start leaves MLflow and the gateway running in the background, as a user's shell would.
  for (const pid of groups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {}
  }
});

/** Runs a script in bash (-e: the first failing command fails it) in its own process group. */
function runScript(script: string, env: Record<string, string | undefined>, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  const child = spawn('bash', ['-e', '-c', script], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  groups.push(child.pid!);
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  return new Promise((done) => {
    const timer = setTimeout(() => {
      output += `\n(test: killed after ${timeoutMs} ms)`;
      process.kill(-child.pid!, 'SIGKILL');
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
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

  test('runs as written: MLflow and the gateway start, the SDK logs a run, curl reads it, a browser signs in with the password, and nothing is written into the checkout', async () => {
    venvPython('3.17.2'); // a clear message when the venv is missing
    const [mlflowPort, gatewayPort] = [await freePort(), await freePort()];
    const data = tempDir('readme');
    const script = substitute(`${quickStartBlock('local-mlflow')}\n${quickStartBlock('use')}`, [
      [/\.cache\/venvs\//g, `${VENV_ROOT}/`],
      [/\.cache\/quickstart/g, data],
      [/\b5000\b/g, String(mlflowPort)],
      [/\b8080\b/g, String(gatewayPort)],
    ]);
    // examples/local-mlflow.yaml listens on ${PORT:-8080}; the README's 8080 became a free port above.
    const { code, output } = await runScript(script, shellEnv({ PORT: String(gatewayPort) }), 200_000);
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
  });

  test('the SageMaker lines name the variables the shipped rules.yaml reads (run with check in place of npm start)', () => {
    const script = substitute(quickStartBlock('sagemaker'), [[/\bnpm start$/m, 'npm run -s check']]);
    const run = spawnSync('bash', ['-e', '-c', `KEY=$(openssl rand -hex 32)\n${script}`], { cwd: REPO, env: shellEnv(), encoding: 'utf8', timeout: 60_000 });
    expect({ code: run.status, stderr: run.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(run.stdout).toContain('rules.yaml: OK');
    expect(run.stdout).toContain('SageMaker tracking-server arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/my-server');
  });
});

describe("the README's console examples", () => {
  const examples = fencedBlocks(README).filter((block) => block.info === 'console');

  test('there are some (the explain examples)', () => {
    expect(examples.length).toBeGreaterThan(0);
  });

  for (const example of examples) {
    test(`README.md:${example.line} prints what it shows`, () => {
      // `$ command` lines, each followed by the output it shows; run in one shell, split by markers.
      const steps: Array<{ command: string; expected: string[] }> = [];
      for (const line of example.body.split('\n')) {
        if (line.startsWith('$ ')) steps.push({ command: line.slice(2), expected: [] });
        else steps.at(-1)?.expected.push(line);
      }
      const marker = 'README-TEST-STEP-END';
      const script = steps.map((step) => `${step.command}\necho "${marker} $?"`).join('\n');
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
