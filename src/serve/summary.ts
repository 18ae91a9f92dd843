// The startup summary: what runs, against what, from which rules (journald keeps it). Its `port`
// is the one actually bound (listen.port 0 picks one), which tests and the bench read.
import type { CompiledRules } from '../rules/compile.ts';
import { COMMIT, VERSION } from '../version.ts';
import type { Listeners } from './listeners.ts';

export interface RunFacts {
  file: string;
  rulesSha256: string;
  watch: boolean;
  runtime: string;
  pid: number;
}

export function listeningSummary(rules: CompiledRules, listeners: Listeners, facts: RunFacts): Record<string, unknown> {
  const startup = rules.source;
  return {
    event: 'listening',
    host: startup.listen.host,
    port: listeners.gateway.port,
    ...(listeners.metrics ? { metricsPort: listeners.metrics.port, metricsPath: startup.metrics.path } : {}),
    version: VERSION,
    commit: COMMIT,
    runtime: facts.runtime,
    pid: facts.pid,
    backend: rules.backend.kind === 'sagemaker' ? `sagemaker ${rules.backend.mode}` : 'self-hosted mlflow',
    ...(rules.backend.kind === 'sagemaker' ? { arn: rules.backend.arn } : {}),
    upstream: rules.backend.baseUrl,
    rules: facts.file,
    rulesSha256: facts.rulesSha256,
    clients: rules.clientsById.size,
    // Where spans go (never the export headers: they may hold a token).
    ...(startup.tracing ? { tracing: { endpoint: startup.tracing.endpoint, sampleRatio: startup.tracing.sampleRatio, serviceName: startup.tracing.serviceName } } : {}),
    watch: facts.watch,
  };
}
