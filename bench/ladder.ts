// One rung of the accounting ladder (bench/accounting.ts): a server that does what the floor does
// (bench/floor.ts) plus the gateway's pieces up to and including one rung, each rung the real code
// (src/), never a model of it. The accounting starts one process per rung beside the floor and the
// gateway itself, so the difference between two neighbouring rungs is what that piece costs.
//
//   bun bench/ladder.ts RUNG RULES_FILE UPSTREAM_BASE      prints {"event":"listening","port":N}
//
// Rungs, each adding to the one before:
//   app       the gateway's listener (src/listen.ts: peer address) and its app (src/app.ts: the own
//             endpoints to Elysia, everything else on) around the floor's fetch
//   forward   the request scope (receive) in the stage chain, and the last stage as it is: forward
//             (the header timer, the client's abort, the header-block cap, a small answer read
//             whole, the response headers copied); the request prepared as for a self-hosted MLflow
//             (the header allowlist), its body read whole first as the SageMaker mode reads it, so
//             that the sign rung adds the hash and the signature and nothing else
//   audit     + the outer stages: the audit line (batched JSON lines on stdout), the error page, the
//             framing check
//   policy    + every stage between them but the signature: authentication (an API key), rewrite,
//             the body budget, authorization, the header selection (and any stage added to the list
//             later: the rungs are taken from stagesFor by name)
//   sign      the SigV4 stage instead of the self-hosted preparation: the body hashed, the
//             signature. This is stagesFor's list exactly, through createApp.
// The gateway itself (`bun src/main.ts serve`) is the rung above: it adds what main.ts wraps around
// the app (the drain's Connection: close, in-flight audits, the credential chain's refresh).
import { Elysia } from 'elysia';
import { loadRulesFile } from '../src/rules/load.ts';
import { listen, type FetchHandler } from '../src/listen.ts';
import { stagesFor, type SharedParts } from '../src/server.ts';
import { createApp, isOwnEndpoint } from '../src/app.ts';
import { chain, type Stage } from '../src/pipeline/chain.ts';
import { receive } from '../src/pipeline/receive.ts';
import { plainMlflowPassing } from '../src/pipeline/sign.ts';
import { mayHaveBody, readBodyWithCap } from '../src/http/read-body.ts';
import { plainMlflowBackend } from '../src/backends/mlflow.ts';
import { createAuditLog, stdoutWriter } from '../src/observability/audit.ts';
import { localTokenBuckets } from '../src/limits/rate-limiter.ts';
import { signInFailureGuard } from '../src/limits/sign-in-failures.ts';
import { bufferBudget } from '../src/limits/buffer-budget.ts';
import { inFlightAudits } from '../src/pipeline/in-flight.ts';
import { asGatewayError, errorResponse } from '../src/errors.ts';
import { buildCredentials, type SigningCredentials } from '../src/serve/credentials.ts';
import type { CompiledRules } from '../src/rules/compile.ts';
import { createLogger } from '../src/observability/log.ts';
import { uncountedMetrics } from '../src/observability/gateway-metrics.ts';

export const RUNGS = ['app', 'forward', 'audit', 'policy', 'sign'] as const;
export type Rung = (typeof RUNGS)[number];

// Stage names (the functions stagesFor returns are named) by the rung that adds them; a stage not
// named here belongs to the policy rung.
const OUTER = new Set(['auditLine', 'errorPage', 'requestFraming']);
const SIGNING = new Set(['sageMakerSigning', 'noArtifactApi', 'artifactApi']);

async function main(): Promise<void> {
  const [rung, rulesFile, upstreamBase] = process.argv.slice(2) as [Rung, string, string];
  if (!RUNGS.includes(rung) || !rulesFile || !upstreamBase) throw new Error(`usage: bun bench/ladder.ts ${RUNGS.join('|')} RULES_FILE UPSTREAM_BASE`);
  const loaded = loadRulesFile(rulesFile, process.env);
  if (!loaded.ok) throw new Error(`rules: ${JSON.stringify(loaded.problems)}`);
  const rules = loaded.rules;
  const write = stdoutWriter();
  const log = createLogger(write, () => 'info', { journal: false });
  const found = await buildCredentials(rules, { log, metrics: uncountedMetrics() });
  if (!found.ok) throw new Error(found.problem);
  const audit = createAuditLog(write);
  const inFlight = inFlightAudits();

  let handle: FetchHandler;
  if (rung === 'sign') {
    const app = createApp({ rules: () => rules, ...found.signing, audit, log, inFlight });
    handle = app.handle;
  } else {
    const terminal: FetchHandler = rung === 'app' ? floorFetch(upstreamBase) : pipeline(rung, rules, found.signing, audit, inFlight, upstreamBase);
    // As createApp does it (src/app.ts): the own endpoints to Elysia, everything else straight on.
    const { liveness, readiness } = rules.source.endpoints;
    const elysia = new Elysia()
      .onError(({ error }) => errorResponse(asGatewayError(error), crypto.randomUUID()))
      .get(liveness, () => new Response('{"status":"ok"}', { headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } }))
      .get(readiness, () => new Response('{"status":"ready"}', { headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } }));
    const own = [liveness, readiness];
    handle = (request, peerAddress) => (isOwnEndpoint(request.url, own) ? elysia.handle(request) : terminal(request, peerAddress));
  }
  const listener = listen(handle, { hostname: '127.0.0.1', port: 0, idleTimeoutSeconds: 130 });
  console.log(JSON.stringify({ event: 'listening', port: listener.port, rung }));
}

/** The floor's own handler (bench/floor.ts). */
function floorFetch(upstreamBase: string): (request: Request) => Promise<Response> {
  return (request) => {
    const url = new URL(request.url);
    return fetch(upstreamBase + url.pathname + url.search, { method: request.method, headers: request.headers, body: request.body, decompress: false } as RequestInit);
  };
}

/** The rung's stages, taken from the real list (stagesFor) by name, in the real order. */
function pipeline(
  rung: Exclude<Rung, 'app' | 'sign'>,
  rules: CompiledRules,
  signing: SigningCredentials,
  audit: SharedParts['audit'],
  inFlight: NonNullable<SharedParts['inFlight']>,
  upstreamBase: string,
): FetchHandler {
  const rateLimits = localTokenBuckets();
  const shared: SharedParts = {
    audit,
    rateLimits,
    signInFailures: signInFailureGuard(rateLimits),
    credentials: signing.credentials ? { host: signing.credentials } : {},
    inFlight,
    nowMs: () => Date.now(),
    bufferBudget: bufferBudget(() => rules.source.limits.maxBufferedBytes),
  };
  const all = stagesFor(rules, shared);
  const keep = (stage: Stage) => {
    if (stage.name === 'forwarding') return true;
    if (SIGNING.has(stage.name)) return false;
    if (OUTER.has(stage.name)) return rung !== 'forward';
    return rung === 'policy';
  };
  const parsed = plainMlflowBackend(upstreamBase);
  if (!parsed.ok) throw new Error(parsed.problem);
  // Below the policy rung nothing rewrites: the path is sent as it came. The body is read whole, as
  // the SageMaker signing stage reads it.
  const maxBodyBytes = rules.source.limits.maxBodyBytes;
  const readAsForSigning: Stage = async function readAsForSigning(scope, next) {
    scope.upstreamPath ??= scope.path;
    if (scope.body === undefined && mayHaveBody(scope.request)) scope.body = await readBodyWithCap(scope.request, maxBodyBytes, scope.bodyLease);
    return next(scope);
  };
  const stages = all.filter(keep);
  stages.splice(stages.length - 1, 0, readAsForSigning, plainMlflowPassing(parsed.value, maxBodyBytes));
  const run = chain(stages);
  const trust = rules.source.listen.trustForwardedFor;
  return (request, peerAddress) => run(receive(request, peerAddress, trust));
}

if (import.meta.main) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
  // Stops with its parent: stdin reaches EOF when the bench is gone.
  (async () => {
    const reader = Bun.stdin.stream().getReader();
    while (!(await reader.read()).done);
    process.exit(0);
  })();
}
