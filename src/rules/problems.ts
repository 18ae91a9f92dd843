// A problem found in a rules file, located at file:line:column and a key path, so a security team
// can go straight to it. Validation collects every problem before refusing (oauth2-proxy's way).

export type KeyPath = ReadonlyArray<string | number>;

export interface RuleProblem {
  file: string;
  line: number;
  column: number;
  /** `backend.arn`, `clients[0].policies[1]`, or `(file)` for the whole file. */
  keyPath: string;
  message: string;
  severity: 'error' | 'warning';
}

export function formatKeyPath(path: KeyPath): string {
  if (path.length === 0) return '(file)';
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

export function formatProblem(problem: RuleProblem): string {
  const tag = problem.severity === 'warning' ? 'warning: ' : '';
  return `${problem.file}:${problem.line}:${problem.column}: ${problem.keyPath}: ${tag}${problem.message}`;
}

/**
 * Maps a key path to a position in the source file; falls back to the nearest existing parent.
 * `key`: the problem is the key itself (an unknown key), so point at the key, not its value.
 */
export type Locate = (path: KeyPath, at?: 'key' | 'value') => { line: number; column: number };

/** Collects problems with positions; `has()` says whether any error was reported. */
export class ProblemList {
  readonly items: RuleProblem[] = [];
  constructor(private readonly file: string, private readonly locate: Locate) {}

  error(path: KeyPath, message: string, at?: 'key'): void {
    this.add(path, message, 'error', at);
  }

  warning(path: KeyPath, message: string, at?: 'key'): void {
    this.add(path, message, 'warning', at);
  }

  hasErrors(): boolean {
    return this.items.some((p) => p.severity === 'error');
  }

  private add(path: KeyPath, message: string, severity: RuleProblem['severity'], at?: 'key'): void {
    const { line, column } = this.locate(path, at);
    this.items.push({ file: this.file, line, column, keyPath: formatKeyPath(path), message, severity });
  }
}
