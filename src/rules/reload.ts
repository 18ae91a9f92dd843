// Live rule reloads (SIGHUP, optionally a file watch). The new file is validated completely
// (load.ts: YAML, schema, compile) before it replaces the old rules in one assignment; the gateway
// reads the rules once per request (server.ts), so requests in flight finish under the rules they
// started with. A bad file is refused with every problem as FILE:LINE:COL and the old rules keep
// serving.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadRulesFile, loadRulesText, type Env, type LoadResult } from './load.ts';
import { formatProblem } from './problems.ts';
import type { CompiledRules } from './compile.ts';
import type { Rules } from './schema.ts';

export type HashedLoad = LoadResult & { sha256?: string };

/** Reads and validates the rules file once, with the SHA-256 of the exact bytes read (startup line, reload log). */
export function loadRulesWithHash(file: string, env: Env): HashedLoad {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    // load.ts words the read failure (it fails the same way): one place says it.
    return loadRulesFile(file, env);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { ...loadRulesText(bytes.toString('utf8'), file, env), sha256 };
}

// Settings read once at startup: they take effect at the next restart, and a reload says so.
const RESTART_ONLY: Array<[string, (r: Rules) => unknown]> = [
  ['listen.host', (r) => r.listen.host],
  ['listen.port', (r) => r.listen.port],
  ['endpoints', (r) => r.endpoints],
  ['metrics', (r) => r.metrics],
  ['shutdown', (r) => r.shutdown],
  ['readiness', (r) => r.readiness],
  // The S3 store behind the artifact API is built at start-up (its root may even be discovered).
  ['artifacts', (r) => r.artifacts],
  // The connection to a shared rate-limit store is opened at start-up (limits/store-from-rules.ts).
  ['limits.store', (r) => r.limits.store],
  // The span exporter and its queue are built at start-up (observability/otel.ts).
  ['tracing', (r) => r.tracing],
];

/** Keys whose change a reload cannot apply (pure). */
export function restartOnlyChanges(current: Rules, next: Rules): string[] {
  return RESTART_ONLY.filter(([, get]) => JSON.stringify(get(current)) !== JSON.stringify(get(next))).map(([key]) => key);
}

/**
 * Why the new rules cannot replace the running ones at all, if they cannot (pure). The credential
 * source is built at startup for the backend kind and role: signing with it for another role, or
 * for a SageMaker backend when there is none, would fail every request.
 */
export function incompatibility(current: CompiledRules, next: CompiledRules): string | undefined {
  if (current.backend.kind !== next.backend.kind) return `backend changes from ${current.backend.kind} to ${next.backend.kind}: restart the service for that`;
  if ((current.assumeRoleArn ?? '') !== (next.assumeRoleArn ?? '')) return 'backend.assumeRoleArn changes: restart the service for that';
  return undefined;
}

export type ReloadOutcome =
  | { ok: true; sha256: string; changed: boolean; restartOnly: string[]; warnings: string[] }
  /** problems: what refused it (errors); warnings: the rest of what check says about the file. */
  | { ok: false; problems: string[]; warnings?: string[] };

export interface RulesReloader {
  /** The rules in force (what GatewayDeps.rules calls once per request). */
  current(): CompiledRules;
  sha256(): string;
  /** Reads, validates and, when valid, swaps the rules. Never throws. */
  reload(): ReloadOutcome;
}

export function createReloader(initial: { rules: CompiledRules; sha256: string }, read: () => HashedLoad): RulesReloader {
  let rules = initial.rules;
  let sha256 = initial.sha256;
  return {
    current: () => rules,
    sha256: () => sha256,
    reload() {
      let loaded: HashedLoad;
      try {
        loaded = read();
      } catch (error) {
        return { ok: false, problems: [`cannot load the rules: ${error instanceof Error ? error.message : String(error)}`] };
      }
      if (!loaded.ok) {
        const errors = loaded.problems.filter((p) => p.severity === 'error').map(formatProblem);
        const warnings = loaded.problems.filter((p) => p.severity === 'warning').map(formatProblem);
        return { ok: false, problems: errors, ...(warnings.length ? { warnings } : {}) };
      }
      const refusal = incompatibility(rules, loaded.rules);
      if (refusal) return { ok: false, problems: [refusal] };
      const restartOnly = restartOnlyChanges(rules.source, loaded.rules.source);
      const changed = loaded.sha256 !== sha256;
      // The swap: one assignment. Requests that already called current() keep the old object.
      rules = loaded.rules;
      sha256 = loaded.sha256 ?? '';
      return { ok: true, sha256, changed, restartOnly, warnings: loaded.warnings.map(formatProblem) };
    },
  };
}
