// Building rules for tests from YAML text, failing loudly when the text is invalid.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { loadRulesText, type Env } from '../../src/rules/load.ts';
import type { CompiledRules } from '../../src/rules/compile.ts';
import { formatProblem } from '../../src/rules/problems.ts';
import { REPO } from './processes.ts';

export function rulesFrom(yaml: string, env: Env = {}): CompiledRules {
  const result = loadRulesText(yaml, 'test.yaml', env);
  if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
  return result.rules;
}

export function problemsOf(yaml: string, env: Env = {}): string[] {
  const result = loadRulesText(yaml, 'test.yaml', env);
  return result.ok ? result.warnings.map(formatProblem) : result.problems.map(formatProblem);
}

/**
 * The policies the repository ships, as a rules file's `policies` map: rules.yaml's own (read-only,
 * log-runs) and the library they are copied from, examples/policies.yaml (read-only-ui, genai,
 * registry-write, admin).
 */
export function shippedPolicies(): Record<string, unknown> {
  const policiesOf = (file: string) => (YAML.parse(readFileSync(join(REPO, file), 'utf8')) as { policies: Record<string, unknown> }).policies;
  return { ...policiesOf('rules.yaml'), ...policiesOf('examples/policies.yaml') };
}
