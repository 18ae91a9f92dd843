// Reads a rules file: YAML with source positions, `${VAR}` / `${VAR:-default}` expansion from the
// environment (so systemd EnvironmentFiles can supply the ARN, ports and key hashes), then the
// TypeBox schema (types, defaults). Pure apart from the file read in loadRulesFile: the caller
// passes the environment in. Semantic checks and matchers are compile.ts's job.
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { checkSchema } from './schema-problems.ts';
import { formatKeyPath, ProblemList, type KeyPath, type Locate, type RuleProblem } from './problems.ts';
import { compileRuleParts, type CompiledRules } from './compile.ts';
import { checkRisks } from './risks.ts';

export type Env = Readonly<Record<string, string | undefined>>;

export type LoadResult =
  | { ok: true; rules: CompiledRules; warnings: RuleProblem[] }
  | { ok: false; problems: RuleProblem[] };

export function loadRulesFile(file: string, env: Env): LoadResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    return { ok: false, problems: [{ file, line: 1, column: 1, keyPath: '(file)', message: `cannot read the rules file (${reason})`, severity: 'error' }] };
  }
  return loadRulesText(text, file, env);
}

export function loadRulesText(text: string, file: string, env: Env): LoadResult {
  const result = parseAndCompile(text, file, env);
  const byPosition = (a: RuleProblem, b: RuleProblem) => a.line - b.line || a.column - b.column;
  return result.ok ? { ...result, warnings: result.warnings.sort(byPosition) } : { ok: false, problems: result.problems.sort(byPosition) };
}

function parseAndCompile(text: string, file: string, env: Env): LoadResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const locate = locator(doc, lineCounter);
  const problems = new ProblemList(file, locate);

  for (const error of doc.errors) {
    const pos = lineCounter.linePos(error.pos[0]);
    problems.items.push({ file, line: pos.line, column: pos.col, keyPath: '(file)', message: `YAML: ${firstLine(error.message)}`, severity: 'error' });
  }
  if (problems.hasErrors()) return { ok: false, problems: problems.items };

  // Every problem in one pass: an unset variable is reported once, the schema's problems with the
  // rules repaired around them, then the semantic checks on what remains; a problem that only
  // restates an earlier one's cause (the empty value of an unset variable, a dropped key) is left out.
  const unset = expandEnvironment(doc, env, problems);
  const raw: unknown = doc.toJS() ?? {};
  const schema = checkSchema(dropEmptyStrings(raw), problems, (path) => unset.some((u) => related(formatKeyPath(path), u)));
  if (!schema.rules) return { ok: false, problems: problems.items };
  const explained = [...unset, ...schema.repaired.map(formatKeyPath)];

  const semantic = new ProblemList(file, locate);
  const { rules, parts } = compileRuleParts(schema.rules, semantic);
  checkRisks(parts, semantic);
  const semanticErrors = new Set(semantic.items.filter((p) => p.severity === 'error').map((p) => p.keyPath));
  for (const problem of semantic.items) {
    const restates = explained.some((path) => problem.keyPath === path || isUnder(problem.keyPath, path) || (problem.severity === 'error' && isUnder(path, problem.keyPath)));
    // A warning about a value that is refused anyway (a key that never expires, but is no hash) waits for its fix.
    const refusedAnyway = problem.severity === 'warning' && semanticErrors.has(problem.keyPath);
    if (!restates && !refusedAnyway) problems.items.push(problem);
  }
  if (!rules || problems.hasErrors()) return { ok: false, problems: problems.items };
  return { ok: true, rules, warnings: problems.items };
}

/** `clients[0].apiKeys` is under `clients[0]`; `clientsX` is not under `clients`. */
function isUnder(path: string, ancestor: string): boolean {
  return ancestor !== '(file)' && (path.startsWith(`${ancestor}.`) || path.startsWith(`${ancestor}[`));
}

function related(a: string, b: string): boolean {
  return a === b || isUnder(a, b) || isUnder(b, a);
}

const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces ${VAR} and ${VAR:-default} in every scalar; an unset VAR without default is an error.
 * Returns the key paths of those errors.
 */
function expandEnvironment(doc: Document, env: Env, problems: ProblemList): string[] {
  const unset: string[] = [];
  visit(doc, {
    Scalar(_key, node, path) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return;
      node.value = node.value.replace(VARIABLE, (_match, name: string, fallback: string | undefined) => {
        const value = env[name];
        if (value !== undefined && value !== '') return value;
        if (fallback !== undefined) return fallback;
        const at = keyPathOf(path, node);
        problems.error(at, `environment variable ${name} is not set (write \${${name}:-default} to make it optional)`);
        unset.push(formatKeyPath(at));
        return '';
      });
    },
  });
  return unset;
}

/** Empty strings (an optional ${VAR:-} left empty) mean "not set", so optional keys stay optional. */
function dropEmptyStrings(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropEmptyStrings);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      if (inner === '' || inner === null) continue;
      out[key] = dropEmptyStrings(inner);
    }
    return out;
  }
  return value;
}

/** The key path of a node from the ancestry `visit` hands over. */
function keyPathOf(ancestry: ReadonlyArray<unknown>, node: Node): KeyPath {
  const keys: Array<string | number> = [];
  const chain = [...ancestry, node];
  for (let i = 0; i < chain.length - 1; i++) {
    const parent = chain[i];
    const child = chain[i + 1];
    if (isSeq(parent)) keys.push(parent.items.indexOf(child as never));
    else if (isMap(parent)) {
      // child is a Pair here; the next element is its value.
      const pair = child as { key?: unknown };
      if (pair && isScalar(pair.key)) keys.push(String(pair.key.value));
    }
  }
  return keys;
}

/**
 * Positions of key paths. A problem about a key's value points at the value when it sits on the
 * key's line (`arn: x` → the x), else at the key (`clients:` with its list below; a flow item);
 * a problem about the key itself (an unknown key) always at the key. A path that does not exist
 * (a missing key) points at its nearest existing parent's key.
 */
function locator(doc: Document, lineCounter: LineCounter): Locate {
  return (path, at = 'value') => {
    for (let depth = path.length; depth >= 0; depth--) {
      const sub = path.slice(0, depth);
      const key = keyNode(doc, sub);
      const value = nodeOffset(doc.getIn(sub, true));
      const keyAt = nodeOffset(key);
      const missing = depth < path.length;
      let offset: number | undefined;
      if (keyAt !== undefined && (at === 'key' || missing || value === undefined)) offset = keyAt;
      else if (value !== undefined && keyAt !== undefined) offset = lineCounter.linePos(value).line === lineCounter.linePos(keyAt).line ? value : keyAt;
      else offset = value;
      if (offset !== undefined) {
        const pos = lineCounter.linePos(offset);
        return { line: pos.line, column: pos.col };
      }
    }
    return { line: 1, column: 1 };
  };
}

function nodeOffset(node: unknown): number | undefined {
  if (node && typeof node === 'object' && 'range' in node) {
    const range = (node as { range?: [number, number, number] }).range;
    if (range) return range[0];
  }
  return undefined;
}

/** The key node of the last element of the path, when its parent is a map. */
function keyNode(doc: Document, path: KeyPath): Node | undefined {
  if (path.length === 0) return undefined;
  const parent = doc.getIn(path.slice(0, -1), true);
  if (!isMap(parent)) return undefined;
  const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === path[path.length - 1]);
  return pair && isScalar(pair.key) ? pair.key : undefined;
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}
