// Reading the two dashboards' queries in tests, to hold them against what a running gateway
// really emits:
//   - CloudWatch Logs JSON filter patterns (`{ $.msg = "request" && $.status >= 500 }`), the subset
//     the stack uses: `$.field` compared (= != < <= > >=) with a quoted string or a number, joined by
//     && or || (CloudWatch Logs user guide, "Filter pattern syntax for metric filters", JSON);
//   - space-delimited patterns (`[tag = "user-data:", event = "BOOT_FAILED", ...]`, the user data's
//     failure line): the line split at spaces (a "quoted" or [bracketed] run is one field), each
//     named field compared (= !=) with a quoted string, `...` standing for any further fields
//     (same guide, "Using metric filters to match terms in space-delimited log events");
//   - PromQL expressions: the metric names and the grouping labels they read.

type Line = Record<string, unknown>;

/**
 * Whether a CloudWatch filter pattern (the subsets above; anything else throws) matches a log line:
 * its text, or a JSON line already parsed (the gateway writes each as one compact JSON object).
 */
export function filterMatches(pattern: string, line: Line | string): boolean {
  if (pattern.trim().startsWith('[')) return spaceDelimitedMatches(pattern, typeof line === 'string' ? line : JSON.stringify(line));
  const body = /^\{\s*(.*?)\s*\}$/s.exec(pattern.trim());
  if (!body) throw new Error(`not a JSON filter pattern: ${pattern}`);
  const json = typeof line === 'string' ? jsonObject(line) : line;
  if (!json) return false; // a JSON pattern never matches a line that is not a JSON object
  // && binds tighter than ||, as in CloudWatch; no parentheses in the stack's patterns.
  return body[1]!.split('||').some((any) => any.split('&&').every((part) => comparison(part.trim(), json)));
}

function jsonObject(text: string): Line | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Line) : undefined;
  } catch {
    return undefined;
  }
}

function comparison(text: string, line: Line): boolean {
  const match = /^\$\.([A-Za-z0-9_.]+)\s*(=|!=|>=|<=|>|<)\s*(?:"([^"]*)"|(-?\d+(?:\.\d+)?))$/.exec(text);
  if (!match) throw new Error(`a comparison this reader does not know: ${text}`);
  const [, path, op, text_, number] = match;
  const value = path!.split('.').reduce<unknown>((at, key) => (at && typeof at === 'object' ? (at as Line)[key] : undefined), line);
  if (text_ !== undefined) return op === '=' ? value === text_ : op === '!=' ? value !== text_ : false;
  if (typeof value !== 'number') return false;
  const n = Number(number);
  return op === '=' ? value === n : op === '!=' ? value !== n : op === '>=' ? value >= n : op === '<=' ? value <= n : op === '>' ? value > n : value < n;
}

function spaceDelimitedMatches(pattern: string, text: string): boolean {
  const body = /^\[(.*)\]$/s.exec(pattern.trim());
  if (!body) throw new Error(`not a space-delimited filter pattern: ${pattern}`);
  const terms = body[1]!.split(',').map((t) => t.trim());
  const rest = terms.at(-1) === '...';
  if (terms.slice(0, rest ? -1 : undefined).includes('...')) throw new Error(`\`...\` only at the end, in this reader: ${pattern}`);
  const fields = [...text.trim().matchAll(/"[^"]*"|\[[^\]]*\]|\S+/g)].map((m) => m[0].replace(/^"(.*)"$/s, '$1'));
  const named = rest ? terms.slice(0, -1) : terms;
  if (rest ? fields.length < named.length : fields.length !== named.length) return false;
  return named.every((term, i) => {
    const match = /^[A-Za-z_][A-Za-z0-9_]*(?:\s*(=|!=)\s*"([^"*]*)")?$/.exec(term);
    if (!match) throw new Error(`a field this reader does not know: ${term}`);
    const [, op, value] = match;
    if (!op) return true;
    return op === '=' ? fields[i] === value : fields[i] !== value;
  });
}

/** The value a metric filter's metricValue (`1` or `$.field`) takes for a line. */
export function filterValue(metricValue: string, line: Line): unknown {
  return metricValue.startsWith('$.') ? line[metricValue.slice(2)] : Number(metricValue);
}

const PROMQL_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset']);

/** The metric (series) names a PromQL expression reads. */
export function promqlMetricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values and other strings
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // range selectors
    .replace(/\b(?:by|without|on|ignoring)\s*\([^)]*\)/g, ''); // grouping labels
  const names = new Set<string>();
  for (const match of stripped.matchAll(/(?<![\w:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:]|\s*\()/g)) {
    if (!PROMQL_KEYWORDS.has(match[1]!)) names.add(match[1]!);
  }
  return [...names];
}

/** The labels of `by (...)` / `without (...)` clauses and of label matchers, but Prometheus's own (instance, job). */
export function promqlLabels(expr: string): string[] {
  const labels = new Set<string>();
  for (const [, list] of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) for (const label of list!.split(',')) labels.add(label.trim());
  for (const [, matchers] of expr.matchAll(/\{([^}]*)\}/g)) for (const [, label] of matchers!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labels.add(label!);
  for (const own of ['instance', 'job', '']) labels.delete(own);
  return [...labels];
}
