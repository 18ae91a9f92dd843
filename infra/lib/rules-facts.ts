// `bun infra/lib/rules-facts.ts FILE`: what the stacks must match in a rules file, as the gateway
// itself reads it (its own loader: YAML, ${VAR} expansion from this process's environment, schema
// defaults, validation). Prints one JSON object; on a file that does not validate, the gateway's
// own problem lines on stderr and exit 1. Run in a child process by gateway-rules.ts, so the CDK
// app never loads the gateway's modules and this file is the only place that knows their shape.
import { bunIdleTimeoutSeconds } from '../../src/listen.ts';
import { loadRulesWithHash } from '../../src/rules/reload.ts';
import { formatProblem } from '../../src/rules/problems.ts';
import { gatewayIdleTimeoutSeconds } from '../../src/serve/listeners.ts';

const file = process.argv[2];
if (!file) {
  console.error('usage: bun infra/lib/rules-facts.ts RULES_FILE');
  process.exit(2);
}
const loaded = loadRulesWithHash(file, process.env);
if (!loaded.ok) {
  for (const problem of loaded.problems) console.error(formatProblem(problem));
  process.exit(1);
}
const source = loaded.rules.source;
const facts = {
  listenPort: source.listen.port,
  trustForwardedFor: source.listen.trustForwardedFor,
  readinessPath: source.endpoints.readiness,
  drainSeconds: source.shutdown.drainSeconds,
  finishSeconds: source.shutdown.finishSeconds,
  albAuth: source.auth.alb !== undefined,
  albArn: source.auth.alb?.albArn,
  albMtlsMode: source.auth.albMtls?.mode,
  backendKind: loaded.rules.backend.kind,
  backendTimeoutSeconds: loaded.rules.upstreamTimeoutMs / 1000,
  // The hosts run the compiled executable (Bun): its listener's idle timeout as Bun applies it.
  listenerIdleTimeoutSeconds: bunIdleTimeoutSeconds(gatewayIdleTimeoutSeconds(loaded.rules.upstreamTimeoutMs)),
  backendAssumeRoleArn: loaded.rules.assumeRoleArn,
  // What `check` would warn about, as it prints them: the stack refuses them unless told otherwise.
  warnings: loaded.warnings.map(formatProblem),
  // Absent when the rules have no limits.store (the schema's default is kind local).
  limitStore: source.limits.store,
};
console.log(JSON.stringify(facts));
