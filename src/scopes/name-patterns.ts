// Name patterns of a policy's scope (policies.*.scope): `team-a/**`, `users/{client}/**`,
// `{group}-*`. `*` is any run of characters but `/`, `**` any run at all; everything else is literal
// (case-sensitive, as MLflow compares names). `{client}` is the caller's id, `{group}` any of the
// caller's groups: a personal or a group's space written once for everybody.
//
// A substituted value is matched literally, and only when it is a plain name: a token subject
// `bob/x` must not turn `users/{client}/**` into a pattern that covers `users/bob/x/...`, which is
// inside bob's own space; nor may a `*` in a subject act as a wildcard. Such a caller's patterns
// with `{client}` match nothing.
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Who is asking, as far as patterns care. */
export interface PatternSubject {
  id: string;
  groups?: ReadonlyArray<string>;
}

export interface NamePattern {
  /** As written in the rules, for explain and denial reasons. */
  readonly source: string;
  matches(name: string, subject: PatternSubject): boolean;
}

const PLACEHOLDER = /\{(client|group)\}/g;
/** What a substituted id or group may be: the characters of a client id (schema.ts), no `/` or `*`. */
const PLAIN_NAME = /^[A-Za-z0-9._@:+=,-]+$/;

/** A problem with a pattern, for `check` (file:line:col comes from the key path). */
export function patternProblem(source: string): string | undefined {
  if (source.includes('***')) return 'three or more `*` in a row: write `**` (any run of characters) or `*` (within one path segment)';
  const unknown = source.replace(PLACEHOLDER, '').match(/\{[^{}]*\}/);
  if (unknown) return `unknown placeholder ${unknown[0]}: only {client} and {group} exist`;
  const stray = source.replace(PLACEHOLDER, '').match(/[{}]/);
  if (stray) return `"${stray[0]}" outside {client} or {group}: only those two placeholders exist`;
  return undefined;
}

export function compileNamePattern(source: string): NamePattern {
  const usesSubject = PLACEHOLDER.test(source);
  PLACEHOLDER.lastIndex = 0;
  if (!usesSubject) {
    const regex = globRegExp(source, {});
    return { source, matches: (name) => regex.test(name) };
  }
  const usesGroup = source.includes('{group}');
  // One compiled regex per (client, group) pair seen, bounded: the subjects of a deployment are few.
  const compiled = new Map<string, RegExp>();
  return {
    source,
    matches(name, subject) {
      if (!PLAIN_NAME.test(subject.id) && source.includes('{client}')) return false;
      const groups = usesGroup ? (subject.groups ?? []).filter((g) => PLAIN_NAME.test(g)) : [''];
      for (const group of groups) {
        const key = `${subject.id}\n${group}`;
        let regex = compiled.get(key);
        if (!regex) {
          if (compiled.size >= 1024) compiled.clear();
          regex = globRegExp(source, { client: subject.id, group });
          compiled.set(key, regex);
        }
        if (regex.test(name)) return true;
      }
      return false;
    },
  };
}

/** A pattern that covers exactly the names starting with `prefix` (the old conditions.experimentNamePrefix). */
export function prefixPattern(prefix: string): NamePattern {
  return { source: `${prefix.replace(/[*{}]/g, (c) => `\\${c}`)}**`, matches: (name) => name.startsWith(prefix) };
}

function globRegExp(source: string, values: { client?: string; group?: string }): RegExp {
  const body = source
    .split(/(\*\*|\*|\{client\}|\{group\})/)
    .map((part) => {
      if (part === '**') return '[\\s\\S]*';
      if (part === '*') return '[^/]*';
      if (part === '{client}') return escapeRegExp(values.client ?? '');
      if (part === '{group}') return escapeRegExp(values.group ?? '');
      return escapeRegExp(part);
    })
    .join('');
  return new RegExp(`^${body}$`);
}
