// Reading the two dashboards' queries in tests, to hold them against what a running gateway
// really emits:
//   - CloudWatch Logs JSON filter patterns (`{ $.msg = "request" && $.status >= 500 }`), the subset
//     the stack uses: `$.field` compared (= != < <= > >=) with a quoted string or a number, joined by
//     && or || (CloudWatch Logs user guide, "Filter pattern syntax for metric filters", JSON);
//   - PromQL expressions: the metric names and the grouping labels they read.

type Line = Record<string, unknown>;

/** Whether a CloudWatch JSON filter pattern matches an audit line (the subset above; anything else throws). */
export function filterMatches(pattern: string, line: Line): boolean {
  const body = /^\{\s*(.*?)\s*\}$/s.exec(pattern.trim());
  if (!body) throw new Error(`not a JSON filter pattern: ${pattern}`);
  // && binds tighter than ||, as in CloudWatch; no parentheses in the stack's patterns.
  return body[1]!.split('||').some((any) => any.split('&&').every((part) => comparison(part.trim(), line)));
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
