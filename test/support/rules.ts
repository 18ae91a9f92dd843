// Building rules for tests from YAML text, failing loudly when the text is invalid.
import { loadRulesText, type Env } from '../../src/rules/load.ts';
import type { CompiledRules } from '../../src/rules/compile.ts';
import { formatProblem } from '../../src/rules/problems.ts';

export function rulesFrom(yaml: string, env: Env = {}): CompiledRules {
  const result = loadRulesText(yaml, 'test.yaml', env);
  if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
  return result.rules;
}

export function problemsOf(yaml: string, env: Env = {}): string[] {
  const result = loadRulesText(yaml, 'test.yaml', env);
  return result.ok ? result.warnings.map(formatProblem) : result.problems.map(formatProblem);
}
