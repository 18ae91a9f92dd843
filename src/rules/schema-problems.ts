// The schema half of `check`: TypeBox's errors become one problem per key, in words a rules author
// reads (an unknown key with a did-you-mean, at the key's own position; a missing key; a value out
// of range), and the rules are repaired as they go (an unknown key dropped, a bad value replaced by
// its default) so the semantic checks still run in the same pass and report what they find in the
// rest of the file. promtool and nginx -t stop at the first problem; a security team fixing a file
// in CI wants them all at once.
import { Value } from '@sinclair/typebox/value';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { RulesSchema, type Rules } from './schema.ts';
import { formatKeyPath, type KeyPath, type ProblemList } from './problems.ts';
import { editDistance } from './operations.ts';

export interface SchemaResult {
  /** The rules with each bad value repaired; undefined when repair could not make them valid. */
  rules: Rules | undefined;
  /** Key paths whose values were dropped or replaced: a semantic problem about one repeats a schema problem's cause. */
  repaired: KeyPath[];
}

// Each round repairs every error it sees; a repair can only reveal errors deeper in the same value
// (a replaced object's defaults), so a few rounds always suffice for a file a person wrote.
const MAX_ROUNDS = 8;

/**
 * Validates against the schema, applying defaults. `explained(path)` says a problem about this
 * path was already reported (an unset environment variable): the schema's view of the empty value
 * would be a second message for the same cause.
 */
export function checkSchema(input: unknown, problems: ProblemList, explained: (path: KeyPath) => boolean): SchemaResult {
  let value: unknown = Value.Default(RulesSchema, Value.Convert(RulesSchema, input));
  const repaired: KeyPath[] = [];
  const reported = new Set<string>();
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const errors = [...Value.Errors(RulesSchema, value)];
    if (errors.length === 0) return { rules: value as Rules, repaired };
    const seen = new Set<string>();
    for (const error of errors) {
      const path = pointerToPath(error.path);
      const key = formatKeyPath(path);
      // TypeBox reports some causes twice at one path (required + wrong type); the first is the cause.
      if (seen.has(key)) continue;
      seen.add(key);
      if (!reported.has(key) && !explained(path)) {
        const { message, at } = describe(error, path);
        problems.error(path, message, at);
      }
      reported.add(key);
      repaired.push(path);
      value = repair(value, path, error);
    }
    value = Value.Default(RulesSchema, value);
  }
  return { rules: undefined, repaired };
}

function describe(error: ValueError, path: KeyPath): { message: string; at?: 'key' } {
  const last = path[path.length - 1];
  const description = (error.schema as { description?: string }).description;
  const about = description ? ` (${description})` : '';
  switch (error.type) {
    case ValueErrorType.ObjectAdditionalProperties: {
      const known = Object.keys((error.schema as { properties?: Record<string, unknown> }).properties ?? {});
      const hint = closest(String(last), known);
      return { message: `unknown key "${String(last)}"${hint ? `; did you mean ${hint}?` : `; known here: ${known.join(', ')}`}`, at: 'key' };
    }
    case ValueErrorType.ObjectRequiredProperty:
      return { message: `required, but missing${about}` };
    case ValueErrorType.Union:
      return { message: `not one of the accepted forms${about}` };
    default:
      return { message: `${error.message.charAt(0).toLowerCase()}${error.message.slice(1)}${about}` };
  }
}

/** The known key a typo most likely meant: same letters in another case, or within a small edit distance. */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance <= Math.max(2, Math.floor(candidate.length / 3)) && (!best || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

/** Drops an unknown key; replaces a bad value by its schema's default (or drops it, so a default applies). */
function repair(root: unknown, path: KeyPath, error: ValueError): unknown {
  if (path.length === 0) return root;
  const parent = getIn(root, path.slice(0, -1));
  const last = path[path.length - 1]!;
  if (!parent || typeof parent !== 'object') return root;
  const container = parent as Record<string | number, unknown>;
  if (error.type === ValueErrorType.ObjectAdditionalProperties || (!Array.isArray(parent) && container[last] !== undefined && error.type !== ValueErrorType.ObjectRequiredProperty)) {
    delete container[last];
    return root;
  }
  // A required key, or an item of a list (dropping it would renumber the items after it).
  try {
    container[last] = Value.Create(error.schema);
  } catch {
    // The schema has no value to make (e.g. a pattern without default): left as is, so the rounds
    // end without a repaired value and only the schema problems are reported.
  }
  return root;
}

function getIn(root: unknown, path: KeyPath): unknown {
  let node = root;
  for (const part of path) {
    if (!node || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[part];
  }
  return node;
}

function pointerToPath(pointer: string): KeyPath {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}
