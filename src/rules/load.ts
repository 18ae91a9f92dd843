// Reads a rules file: YAML with source positions, `${VAR}` / `${VAR:-default}` expansion from the
// environment (so systemd EnvironmentFiles can supply the ARN, ports and key hashes), then the
// TypeBox schema (types, defaults). Pure apart from the file read in loadRulesFile: the caller
// passes the environment in. Semantic checks and matchers are compile.ts's job.
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { Value } from '@sinclair/typebox/value';
import { RulesSchema, type Rules } from './schema.ts';
import { ProblemList, type KeyPath, type Locate, type RuleProblem } from './problems.ts';
import { compileRules, type CompiledRules } from './compile.ts';
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

  expandEnvironment(doc, env, problems);
  const raw: unknown = doc.toJS() ?? {};
  const withDefaults = Value.Default(RulesSchema, Value.Convert(RulesSchema, dropEmptyStrings(raw)));
  for (const error of Value.Errors(RulesSchema, withDefaults)) {
    problems.error(pointerToPath(error.path), schemaMessage(error.message, error.schema));
  }
  if (problems.hasErrors()) return { ok: false, problems: problems.items };

  const rules = compileRules(withDefaults as Rules, problems);
  if (!rules || problems.hasErrors()) return { ok: false, problems: problems.items };
  checkRisks(rules, problems);
  return { ok: true, rules, warnings: problems.items };
}

const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces ${VAR} and ${VAR:-default} in every scalar; an unset VAR without default is an error. */
function expandEnvironment(doc: Document, env: Env, problems: ProblemList): void {
  visit(doc, {
    Scalar(_key, node, path) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return;
      node.value = node.value.replace(VARIABLE, (_match, name: string, fallback: string | undefined) => {
        const value = env[name];
        if (value !== undefined && value !== '') return value;
        if (fallback !== undefined) return fallback;
        problems.error(keyPathOf(path, node), `environment variable ${name} is not set (write \${${name}:-default} to make it optional)`);
        return '';
      });
    },
  });
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

function locator(doc: Document, lineCounter: LineCounter): Locate {
  return (path) => {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = doc.getIn(path.slice(0, depth), true) as Node | undefined;
      const offset = nodeOffset(node) ?? (depth === path.length ? keyOffset(doc, path) : undefined);
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

/** For a key whose value is null (`key:` alone), point at the key itself. */
function keyOffset(doc: Document, path: KeyPath): number | undefined {
  if (path.length === 0) return undefined;
  const parent = doc.getIn(path.slice(0, -1), true);
  if (!isMap(parent)) return undefined;
  const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === path[path.length - 1]);
  return pair ? nodeOffset(pair.key) : undefined;
}

function pointerToPath(pointer: string): KeyPath {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

function schemaMessage(message: string, schema: { description?: string }): string {
  const lower = message.charAt(0).toLowerCase() + message.slice(1);
  return schema.description ? `${lower} (${schema.description})` : lower;
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}
