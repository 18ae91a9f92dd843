// The command line: serve | check | explain | iam-policy | hash-key | hash-password | version (grammar: command-line.ts).
// The only file that reads argv, the environment, stdin and files; everything else gets them passed in.
import { fstatSync, readFileSync } from 'node:fs';
import type { LoadResult } from './rules/load.ts';
import { createReloader, loadRulesWithHash } from './rules/reload.ts';
import { formatProblem, type RuleProblem } from './rules/problems.ts';
import { parseCommandLine } from './command-line.ts';
import type { CompiledRules } from './rules/compile.ts';
import { explain, explainClient } from './explain.ts';
import { hashPassword } from './auth/password.ts';
import { clientRoles, iamPolicy, iamPolicyNotes, noPolicyNeeded } from './iam-policy.ts';
import { hashApiKey } from './auth/api-key.ts';
import { createApp } from './app.ts';
import { stdoutWriter } from './observability/audit.ts';
import { createLogger } from './observability/log.ts';
import { isJournal, priorityPrefix } from './observability/journal.ts';
import { uncountedMetrics } from './observability/gateway-metrics.ts';
import { bufferBudget } from './limits/buffer-budget.ts';
import { COMMIT, VERSION, VERSION_LINE } from './version.ts';
import { buildCredentials } from './serve/credentials.ts';
import { buildArtifacts } from './serve/artifacts.ts';
import { buildReadiness } from './serve/readiness.ts';
import { buildAudit } from './serve/audit.ts';
import { startListeners } from './serve/listeners.ts';
import { watchRules } from './serve/reload.ts';
import { listeningSummary } from './serve/summary.ts';
import { drainThenStop, nextStopSignal } from './serve/shutdown.ts';
import { rateLimitStoreFromRules } from './limits/store-from-rules.ts';
import { closingWhileDraining } from './serve/draining.ts';
import { inFlightAudits } from './pipeline/in-flight.ts';
import { tracedRateLimitStore } from './observability/traced-io.ts';

const out = (text: string) => process.stdout.write(`${text}\n`);
const err = (text: string) => process.stderr.write(`${text}\n`);

async function main(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv, VERSION, VERSION_LINE);
  if (parsed.kind === 'exit') {
    (parsed.code === 0 ? out : err)(parsed.text);
    return parsed.code;
  }
  const { command, values, positionals } = parsed;
  switch (command) {
    case 'version':
      out(VERSION_LINE);
      return 0;
    case 'hash-key':
      return hashKeyCommand();
    case 'hash-password':
      return hashPasswordCommand();
    case 'check':
      return checkCommand(values.rules as string, loadRulesWithHash(values.rules as string, process.env), { strict: values.strict === true, json: values.format === 'json' });
  }
  const file = values.rules as string;
  const loaded = loadRulesWithHash(file, process.env);
  if (!loaded.ok) {
    // serve's refusal to start is an error in the journal too (journal.ts), not an info line.
    const mark = priorityPrefix(command === 'serve' && isJournal(process.env.JOURNAL_STREAM, () => fstatSync(2)), 'error');
    for (const problem of loaded.problems) err(`${mark}${formatProblem(problem)}`);
    err(`${mark}${file}: ${errorCount(loaded.problems)} problem(s); rules refused`);
    return 1;
  }
  switch (command) {
    case 'iam-policy':
      return iamPolicyCommand(loaded.rules, values.role as string | undefined);
    case 'explain': {
      const client = values.client as string | undefined;
      const data = values.data as string | undefined;
      const graphql = positionals.length === 0 ? undefined : await import('./pipeline/graphql.ts');
      const result = graphql ? await explain(loaded.rules, positionals[0]!, positionals[1]!, client, { graphql, ...(data !== undefined ? { body: data } : {}) }) : explainClient(loaded.rules, client!);
      for (const line of result.lines) out(line);
      return 'found' in result ? (result.found ? 0 : 1) : result.allowed ? 0 : 1;
    }
    case 'serve':
      return serveCommand(file, { rules: loaded.rules, sha256: loaded.sha256 ?? '', warnings: loaded.warnings.map(formatProblem) }, values.watch === true);
  }
}

const errorCount = (problems: readonly RuleProblem[]) => problems.filter((p) => p.severity === 'error').length;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function hashPasswordCommand(): Promise<number> {
  const password = await readStdin();
  if (password.length < 12) {
    err('hash-password: read the password on stdin (at least 12 characters), e.g.: read -rs PW; printf %s "$PW" | sagemaker-mlflow-proxy hash-password');
    return 2;
  }
  out(await hashPassword(password));
  return 0;
}

function iamPolicyCommand(rules: CompiledRules, role: string | undefined): number {
  const unsigned = noPolicyNeeded(rules);
  if (unsigned) {
    err(unsigned);
    return role === undefined ? 0 : 2;
  }
  const roles = clientRoles(rules);
  if (role !== undefined && !roles.includes(role)) {
    err(`iam-policy: no client or group uses role ${role}; roles in these rules: ${roles.join(', ') || 'none'}`);
    return 2;
  }
  out(JSON.stringify(iamPolicy(rules, role), null, 2));
  for (const note of iamPolicyNotes(rules, role)) err(note);
  if (role === undefined) {
    const signer = rules.assumeRoleArn ? `the role ${rules.assumeRoleArn} (backend.assumeRoleArn; the host's role needs sts:AssumeRole on it)` : "the host's role";
    err(`Policy for ${signer}.${roles.length ? ` Client roles (${roles.join(', ')}): run iam-policy --role ARN for each.` : ''}`);
  }
  return 0;
}

async function hashKeyCommand(): Promise<number> {
  const key = await readStdin();
  if (key.length < 16) {
    err('hash-key: read the API key on stdin (at least 16 characters), e.g.: openssl rand -hex 32 | tee key.txt | sagemaker-mlflow-proxy hash-key');
    return 2;
  }
  out(hashApiKey(key));
  return 0;
}

/**
 * Every problem of the file in one pass, errors and warnings together, as FILE:LINE:COL lines on
 * stderr (the summary on stdout), or one JSON object on stdout for CI. --strict: warnings fail too.
 */
function checkCommand(file: string, loaded: LoadResult & { sha256?: string }, options: { strict: boolean; json: boolean }): number {
  const problems = loaded.ok ? loaded.warnings : loaded.problems;
  const errors = errorCount(problems);
  const warnings = problems.length - errors;
  const valid = errors === 0 && !(options.strict && warnings > 0);
  if (options.json) {
    out(JSON.stringify({ file, valid, errors, warnings, strict: options.strict, ...(loaded.sha256 ? { sha256: loaded.sha256 } : {}), problems }));
    return valid ? 0 : 1;
  }
  for (const problem of problems) err(formatProblem(problem));
  if (!loaded.ok) {
    err(`${file}: ${errors} problem(s)${warnings ? ` and ${warnings} warning(s)` : ''}; rules refused`);
    return 1;
  }
  if (!valid) {
    err(`${file}: ${warnings} warning(s), and --strict makes warnings fail; rules refused`);
    return 1;
  }
  out(`${file}: OK${warnings ? ` (${warnings} warning(s))` : ''}`);
  for (const line of summary(loaded.rules)) out(`  ${line}`);
  // The same hash the running gateway logs at startup and on each reload: which file is in force.
  out(`  sha256     ${loaded.sha256}`);
  return 0;
}

function summary(rules: CompiledRules): string[] {
  const b = rules.backend;
  const backend =
    b.kind === 'sagemaker'
      ? `SageMaker ${b.mode} ${b.arn} (region ${b.region}, signing name ${b.signingName})`
      : `self-hosted MLflow, no signing`;
  const policies = [...rules.policies.keys()];
  const clients = [...rules.clientsById.keys()];
  return [
    `backend    ${backend}`,
    `upstream   ${b.baseUrl}`,
    `listen     ${rules.source.listen.host}:${rules.source.listen.port}`,
    `clients    ${clients.length}${clients.length ? ` (${clients.join(', ')})` : ''}`,
    `sign-in    ${signInSummary(rules)}`,
    `groups     ${rules.auth.groups.size ? [...rules.auth.groups.keys()].join(', ') : 'none'}`,
    `anonymous  ${rules.auth.anonymous ? `on: ${rules.auth.anonymous.policies.map((p) => p.name).join(', ') || 'no policies'}` : 'off'}`,
    `policies   ${policies.length}${policies.length ? ` (${policies.join(', ')})` : ''}`,
    `rewrites   ${rules.rewrites.length}${rules.rewrites.length ? ` (${rules.rewrites.map((r) => r.name).join('; ')})` : ''}`,
  ];
}

function signInSummary(rules: CompiledRules): string {
  const auth = rules.auth;
  return [
    `${auth.apiKeys.size} API key(s)`,
    `${auth.passwords.size} password(s)`,
    auth.jwtIssuers.length ? `JWT from ${auth.jwtIssuers.map((i) => i.issuer).join(', ')}` : 'no JWT issuers',
    auth.alb ? `ALB OIDC from ${auth.alb.albArn}` : 'ALB OIDC off',
    auth.albMtls ? `ALB mTLS ${auth.albMtls.mode} (${[...auth.albMtls.rules.values()].flat().length} certificate match(es))` : 'ALB mTLS off',
  ].join('; ');
}

async function serveCommand(file: string, initial: { rules: CompiledRules; sha256: string; warnings: string[] }, watch: boolean): Promise<number> {
  // The builders read the rules at start-up: what they build from them needs a restart to change
  // (a reload says so, rules/reload.ts). Requests read the rules in force, reloader.current().
  const rules = initial.rules;
  const reloader = createReloader(initial, () => loadRulesWithHash(file, process.env));
  const write = stdoutWriter();
  const journal = isJournal(process.env.JOURNAL_STREAM, () => fstatSync(1));
  const log = createLogger(write, () => reloader.current().source.logging.level, { journal });
  // Without a metrics listener nothing would ever read them: no metric work per request then, and
  // prom-client is not even loaded.
  const metrics = rules.source.metrics.enabled
    ? (await import('./observability/metrics.ts')).createMetrics({ version: VERSION, commit: COMMIT, runtime: runtimeName() }, (id) => reloader.current().clientsById.has(id))
    : uncountedMetrics();
  for (const warning of initial.warnings) log.log('warn', 'rules warning', { problem: warning });
  // Without a tracing section the OpenTelemetry SDK is not loaded and nothing is wrapped in spans.
  const tracing = rules.source.tracing
    ? (await import('./observability/otel.ts')).createTracing(rules.source.tracing, {
        version: VERSION,
        onExportHealth: (ok, detail) => log.log(ok ? 'info' : 'warn', detail, { endpoint: rules.source.tracing!.endpoint }),
      })
    : undefined;
  if (tracing) metrics.watchTraceSpans(tracing.counts);

  const found = await buildCredentials(rules, { log, metrics, ...(tracing ? { tracing } : {}) });
  if (!found.ok) {
    err(`${priorityPrefix(isJournal(process.env.JOURNAL_STREAM, () => fstatSync(2)), 'error')}serve: ${found.problem}`);
    return 1;
  }
  const { signing } = found;
  const artifacts = await buildArtifacts(rules, signing.credentials, log, tracing);
  // Set when SIGTERM or SIGINT arrives: readiness fails from then on, so the load balancer stops routing here.
  let draining = false;
  const readiness = await buildReadiness(rules, signing.credentials, () => draining, log);
  const audit = buildAudit(write, reloader.current, metrics);
  const limits = await rateLimitStoreFromRules(rules.source.limits.store, { log, metrics, env: process.env, readFile: (f) => readFileSync(f, 'utf8') });
  const rateLimits = limits.store && tracing ? tracedRateLimitStore(limits.store, tracing) : limits.store;

  // The budget for buffered request bodies (limits.maxBufferedBytes), one per process, its use a gauge.
  const buffers = bufferBudget(() => reloader.current().source.limits.maxBufferedBytes);
  metrics.watchBufferedBytes(buffers.held);

  // Everything the gateway is given, in one place.
  const inFlight = inFlightAudits();
  const app = createApp({
    rules: reloader.current,
    bufferBudget: buffers,
    ...signing,
    ...(artifacts ? { artifacts } : {}),
    ...(rateLimits ? { rateLimits } : {}),
    ...(tracing ? { tracing } : {}),
    audit,
    log,
    onRequest: metrics.requestStarted,
    lookupMetrics: metrics,
    readiness,
    inFlight,
  });
  const listeners = startListeners(closingWhileDraining(app.handle, () => draining), rules, metrics);
  // The process's signals: SIGHUP reloads the rules, SIGTERM and SIGINT stop the gateway.
  const stopWatching = watchRules(file, watch, reloader, process, { log, metrics });
  log.log('info', 'listening', listeningSummary(rules, listeners, { file, rulesSha256: reloader.sha256(), watch, runtime: runtimeName(), pid: process.pid }));

  const signal = await nextStopSignal(process);
  draining = true;
  const { drainSeconds, finishSeconds } = rules.source.shutdown;
  // Lines of requests the drain cuts end their spans too; the spans still queued are sent last.
  const cutAudit = tracing ? tracing.endingSpans(audit) : audit;
  return drainThenStop(signal, process, { listeners, stopWatching, audit: cutAudit, drainSeconds, finishSeconds, inFlight }, { log, metrics }).finally(async () => {
    await limits.close();
    await tracing?.shutdown();
  });
}

/** "bun 1.4.4" or "deno 2.9.6": the build-info metric and startup line name what runs the code. */
function runtimeName(): string {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
  return g.Bun ? `bun ${g.Bun.version}` : g.Deno ? `deno ${g.Deno.version.deno}` : `node ${process.version}`;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    err(`sagemaker-mlflow-proxy: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
