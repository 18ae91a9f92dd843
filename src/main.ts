// The command line: serve | check | explain | hash-key | version.
// The only file that reads argv, the environment, stdin and files; everything else gets them passed in.
import { parseArgs } from 'node:util';
import type { LoadResult } from './rules/load.ts';
import { createReloader, loadRulesWithHash } from './rules/reload.ts';
import { watchRulesFile } from './rules/watch.ts';
import { formatProblem } from './rules/problems.ts';
import type { CompiledRules } from './rules/compile.ts';
import { explain, explainClient } from './explain.ts';
import { hashPassword } from './auth/password.ts';
import { clientRoles, iamPolicy, iamPolicyNotes } from './iam-policy.ts';
import { clientRoleCredentials, stsRoleProvider, type ClientRoleCredentials } from './aws/client-roles.ts';
import { hashApiKey } from './auth/api-key.ts';
import { createApp } from './server.ts';
import { cachedBackendStatus, httpProbe, readiness } from './readiness.ts';
import { drainAndStop } from './shutdown.ts';
import { listen } from './listen.ts';
import { cachedCredentials, defaultCredentialProvider, type CredentialCache, type RefreshEvent } from './aws/credentials.ts';
import { createAuditLog, stdoutWriter } from './observability/audit.ts';
import { createLogger } from './observability/log.ts';
import { createMetrics, meteredAudit } from './observability/metrics.ts';
import { metricsHandler } from './observability/metrics-endpoint.ts';
import { bufferBudget } from './limits/buffer-budget.ts';
import { COMMIT, VERSION, VERSION_LINE } from './version.ts';
import type { ArtifactService } from './artifacts/service.ts';

const USAGE = `sagemaker-mlflow-proxy ${VERSION}

Usage:
  sagemaker-mlflow-proxy serve   --rules FILE [--watch]  run the gateway; SIGHUP (or, with --watch, a
                                                         change to FILE) reloads the rules
  sagemaker-mlflow-proxy check   --rules FILE            validate the rules file
  sagemaker-mlflow-proxy explain --rules FILE [--client ID] METHOD URL
                                                         what would happen to a request
  sagemaker-mlflow-proxy explain --rules FILE --client ID
                                                         everything a client may do
  sagemaker-mlflow-proxy iam-policy --rules FILE [--role ARN]
                                                         the IAM policy the host's role (or a client role) needs
  sagemaker-mlflow-proxy hash-key                        read an API key on stdin, print its hash
  sagemaker-mlflow-proxy hash-password                   read a password on stdin, print its scrypt hash
  sagemaker-mlflow-proxy version
`;

const out = (text: string) => process.stdout.write(`${text}\n`);
const err = (text: string) => process.stderr.write(`${text}\n`);

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { rules: { type: 'string' }, client: { type: 'string' }, role: { type: 'string' }, watch: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help || command === undefined || command === 'help' || command === '--help') {
    out(USAGE);
    return command === undefined ? 2 : 0;
  }
  switch (command) {
    case 'version':
      out(VERSION_LINE);
      return 0;
    case 'hash-key':
      return hashKeyCommand();
    case 'hash-password':
      return hashPasswordCommand();
    case 'check':
    case 'explain':
    case 'iam-policy':
    case 'serve': {
      if (!values.rules) {
        err(`${command}: --rules FILE is required\n\n${USAGE}`);
        return 2;
      }
      const loaded = loadRulesWithHash(values.rules, process.env);
      if (!loaded.ok) {
        for (const problem of loaded.problems) err(formatProblem(problem));
        err(`${values.rules}: ${loaded.problems.filter((p) => p.severity === 'error').length} problem(s); rules refused`);
        return 1;
      }
      if (command === 'check') return checkCommand(values.rules, loaded);
      if (command === 'iam-policy') return iamPolicyCommand(loaded.rules, values.role);
      if (command === 'explain' && positionals.length === 0 && values.client !== undefined) {
        const result = explainClient(loaded.rules, values.client);
        for (const line of result.lines) out(line);
        return result.found ? 0 : 1;
      }
      if (command === 'explain') {
        if (positionals.length !== 2) {
          err(`explain needs METHOD and URL, e.g.: explain --rules rules.yaml --client ci GET /api/2.0/mlflow/experiments/get?experiment_id=1`);
          return 2;
        }
        const result = explain(loaded.rules, positionals[0]!, positionals[1]!, values.client);
        for (const line of result.lines) out(line);
        return 0;
      }
      return serveCommand(values.rules, { rules: loaded.rules, sha256: loaded.sha256 ?? '', warnings: loaded.warnings.map(formatProblem) }, values.watch === true);
    }
    default:
      err(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

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
  const roles = clientRoles(rules);
  if (role !== undefined && !roles.includes(role)) {
    err(`iam-policy: no client or group uses role ${role}; roles in these rules: ${roles.join(', ') || 'none'}`);
    return 2;
  }
  out(JSON.stringify(iamPolicy(rules, role), null, 2));
  for (const note of iamPolicyNotes(rules)) err(note);
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

function checkCommand(file: string, loaded: Extract<LoadResult, { ok: true }> & { sha256?: string }): number {
  const rules = loaded.rules;
  for (const warning of loaded.warnings) err(formatProblem(warning));
  out(`${file}: OK`);
  for (const line of summary(rules)) out(`  ${line}`);
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
  ].join('; ');
}

async function serveCommand(file: string, initial: { rules: CompiledRules; sha256: string; warnings: string[] }, watch: boolean): Promise<number> {
  // Read once: changing these needs a restart (a reload says so, rules/reload.ts).
  const startup = initial.rules.source;
  const reloader = createReloader(initial, () => loadRulesWithHash(file, process.env));
  const write = stdoutWriter();
  const log = createLogger(write, () => reloader.current().source.logging.level);
  const metrics = createMetrics({ version: VERSION, commit: COMMIT, runtime: runtimeName() }, (id) => reloader.current().clientsById.has(id));
  for (const warning of initial.warnings) log.log('warn', 'rules warning', { problem: warning });

  let credentials: CredentialCache | undefined;
  const rules = initial.rules;
  let clientRoleCache: ClientRoleCredentials | undefined;
  // Host and client-role credential refreshes alike: counted, and logged with their own wording.
  // The wording follows what is true (issue 13 item 16): whether the credentials in hand still sign.
  const reportRefresh = (refreshed: string, failed: string) => (event: RefreshEvent) => {
    metrics.credentialRefresh(event.ok);
    if (event.ok) log.log('info', refreshed, { expiration: event.expiration?.toISOString() });
    else if (event.expired) {
      log.log('error', 'credential refresh failed and the credentials have expired: signed requests fail with 503 until a refresh succeeds', { error: event.error, retryInSeconds: Math.ceil((event.retryInMs ?? 0) / 1000) });
    } else log.log('warn', failed, { error: event.error, retryInSeconds: Math.ceil((event.retryInMs ?? 0) / 1000) });
  };
  if (rules.backend.kind === 'sagemaker') {
    const region = rules.backend.region;
    credentials = cachedCredentials(
      defaultCredentialProvider({ ...(rules.assumeRoleArn ? { assumeRoleArn: rules.assumeRoleArn } : {}), region }),
      {
        onRefresh: reportRefresh('credentials refreshed', 'credential refresh failed; still using the current credentials'),
      },
    );
    try {
      await credentials.get();
    } catch (error) {
      err(
        `serve: no AWS credentials could be found for signing (${error instanceof Error ? error.message : String(error)}).\n` +
          'On EC2, attach an instance profile with the SageMaker MLflow permissions; elsewhere set AWS_PROFILE or ' +
          'AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.',
      );
      return 1;
    }
    const host = credentials;
    clientRoleCache = clientRoleCredentials(stsRoleProvider(() => host.get(), region), {
      onRefresh: reportRefresh('client role credentials refreshed', 'client role credentials failed'),
    });
  }

  // Built once from the rules at start-up: a reload that changes `artifacts` needs a restart.
  let artifacts: ArtifactService | undefined;
  if (rules.artifacts && credentials && rules.backend.kind === 'sagemaker') {
    const host = credentials;
    // Loaded only when configured: the S3 and SageMaker SDKs add ~15 MB to every process's RSS.
    const { createArtifactService } = await import('./artifacts/service.ts');
    artifacts = await createArtifactService(rules.artifacts, rules.backend, () => host.get());
    log.log('info', 'serving artifacts', { root: artifacts.store.root.uri });
  }

  // readiness.checkBackendStatus: SageMaker's own word on whether the backend serves, asked at most
  // once per backendStatusSeconds. Loaded only when configured (the SageMaker SDK, as for artifacts).
  // The SDK takes AWS_ENDPOINT_URL_SAGEMAKER from the environment (VPC endpoints, tests).
  let backendStatus: (() => Promise<{ ready: boolean; text: string }>) | undefined;
  if (startup.readiness.checkBackendStatus && credentials && rules.backend.kind === 'sagemaker') {
    const host = credentials;
    const { describeBackendStatus } = await import('./aws/backend-status.ts');
    const describe = describeBackendStatus(rules.backend, () => host.get(), { timeoutMs: startup.readiness.upstreamTimeoutSeconds * 1000 });
    backendStatus = cachedBackendStatus(describe, {
      cacheSeconds: startup.readiness.backendStatusSeconds,
      onError: (error) =>
        log.log('warn', 'backend status check failed; readiness keeps the last known status', {
          error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        }),
      onChange: (status) => log.log(status.serving ? 'info' : 'warn', 'backend status', { status: status.status, serving: status.serving }),
    });
    // Ask once now, so the log says at start-up whether the backend serves (the answer is cached).
    void backendStatus();
  }

  let draining = false;
  const requestLog = createAuditLog(write);
  const audit = meteredAudit(
    {
      write(record) {
        if (reloader.current().source.logging.requests) requestLog.write(record);
      },
      flush: () => requestLog.flush?.(),
    },
    metrics,
  );
  const readinessOptions = {
    draining: () => draining,
    minCredentialSeconds: startup.readiness.minCredentialSeconds,
    ...(startup.readiness.checkUpstream
      ? { probeUpstream: httpProbe(rules.backend.baseUrl, startup.readiness.upstreamTimeoutSeconds * 1000) }
      : {}),
    ...(backendStatus ? { backendStatus } : {}),
  };
  const buffers = bufferBudget(() => reloader.current().source.limits.maxBufferedBytes);
  metrics.watchBufferedBytes(buffers.held);
  const app = createApp({
    rules: reloader.current,
    bufferBudget: buffers,
    ...(credentials ? { credentials } : {}),
    ...(clientRoleCache ? { clientRoles: clientRoleCache } : {}),
    ...(artifacts ? { artifacts } : {}),
    audit,
    log,
    onRequest: metrics.requestStarted,
    readiness: () => readiness(credentials, readinessOptions),
  });
  const listener = listen((request) => app.handle(request), {
    hostname: startup.listen.host,
    port: startup.listen.port,
    idleTimeoutSeconds: rules.upstreamTimeoutMs / 1000 + 10,
  });
  const metricsListener = startup.metrics.enabled
    ? listen(metricsHandler(startup.metrics.path, metrics), { hostname: startup.metrics.host, port: startup.metrics.port, idleTimeoutSeconds: 30 })
    : undefined;

  const reload = (trigger: string) => {
    const outcome = reloader.reload();
    metrics.rulesReload(outcome.ok);
    if (!outcome.ok) {
      log.log('error', 'rules reload refused; the rules in force keep serving', { trigger, rules: file, problems: outcome.problems });
      return;
    }
    for (const warning of outcome.warnings) log.log('warn', 'rules warning', { problem: warning });
    log.log('info', 'rules reloaded', { trigger, rules: file, rulesSha256: outcome.sha256, changed: outcome.changed });
    if (outcome.restartOnly.length > 0) {
      log.log('warn', 'changed settings take effect at the next restart', { keys: outcome.restartOnly });
    }
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  const stopWatching = watch ? watchRulesFile(file, () => reload('file change')) : undefined;

  // The startup summary: what runs, against what, from which rules (journald keeps it).
  log.log('info', 'listening', {
    event: 'listening',
    host: startup.listen.host,
    port: listener.port,
    ...(metricsListener ? { metricsPort: metricsListener.port, metricsPath: startup.metrics.path } : {}),
    version: VERSION,
    commit: COMMIT,
    runtime: runtimeName(),
    pid: process.pid,
    backend: rules.backend.kind === 'sagemaker' ? `sagemaker ${rules.backend.mode}` : 'self-hosted mlflow',
    ...(rules.backend.kind === 'sagemaker' ? { arn: rules.backend.arn } : {}),
    upstream: rules.backend.baseUrl,
    rules: file,
    rulesSha256: reloader.sha256(),
    clients: rules.clientsById.size,
    watch,
  });

  const stopSignals = () =>
    new Promise<string>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
  const signal = await stopSignals();
  draining = true;
  metrics.draining(true);
  stopWatching?.();
  const { drainSeconds, finishSeconds } = startup.shutdown;
  log.log('info', 'draining: readiness fails, requests are still served', { signal, drainSeconds, finishSeconds, inFlight: metrics.inFlight() });
  // Ctrl-C in a terminal has no load balancer to wait for.
  const skipDrain = signal === 'SIGINT' ? Promise.resolve() : stopSignals();
  const result = await drainAndStop(listener, { drainMs: drainSeconds * 1000, finishMs: finishSeconds * 1000 }, skipDrain, (phase) =>
    phase === 'closing'
      ? log.log('info', 'closing the listener; waiting for requests in flight', { inFlight: metrics.inFlight() })
      : log.log('warn', 'requests still in flight were cut', { inFlight: metrics.inFlight() }),
  );
  await metricsListener?.stop(true);
  audit.flush?.();
  log.log('info', 'stopped', { signal, finished: result.finished });
  return 0;
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
