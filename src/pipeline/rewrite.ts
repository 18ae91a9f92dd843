// Stage 3, rewrite: refuse paths that could be read two ways, then apply the ordered rewrite rules
// to get the canonical upstream path. What authorize checks is exactly what forward sends.
import { BadRequest } from '../errors.ts';
import type { Stage } from './chain.ts';
import { prefixRedirect, redirectResponse } from './prefix-redirect.ts';

/** One rewrite rule of the rules file, compiled (rules/compile.ts). */
export interface CompiledRewrite {
  name: string;
  /** Returns the rewritten path, or undefined when the rule does not apply. */
  apply(path: string): string | undefined;
  /** For stripPrefix rules: the prefix (no trailing slash), which the gateway redirects to PREFIX/. */
  mountPrefix?: string;
}

export interface PathLimits {
  maxPathLength: number;
  maxQueryLength: number;
}

export interface RewriteResult {
  path: string;
  /** Names of the rules that applied, in order. */
  applied: string[];
}

// Encoded `/`, `.`, `\` and NUL let a path mean one thing to the gateway and another to a server
// that decodes before routing; `//` and dot segments are collapsed by some servers and not others.
const ENCODED_AMBIGUOUS = /%(2f|2e|5c|00)/i;
// Encoded unreserved characters (letters, digits, "-", "_"; "." is above): RFC 3986 section 2.3
// makes `%61pi` the same URI as `api` and says producers never encode them, and the upstream
// (werkzeug) decodes them before routing. Matched undecoded, `/api/2.0/mlflow%2Dartifacts/...`
// would be no route to the gateway and the artifact API to MLflow (issue 19); so the gateway
// refuses them rather than decide on one reading and send another. "~" (%7E) stays: Java's
// URLEncoder and older Pythons encode it, and no route has a "~" to spell.
const ENCODED_UNRESERVED = /%(3[0-9]|4[1-9a-f]|5[0-9a]|6[1-9a-f]|7[0-9a]|2d|5f)/i;
const DOT_SEGMENT = /(^|\/)\.\.?(\/|$)/;

/** Throws BadRequest when a path is ambiguous or over-long; returns nothing otherwise. */
export function checkUnambiguousPath(path: string, query: string, limits: PathLimits): void {
  if (path.length > limits.maxPathLength) throw new BadRequest(`Request path is longer than ${limits.maxPathLength} characters.`);
  if (query.length > limits.maxQueryLength) throw new BadRequest(`Query string is longer than ${limits.maxQueryLength} characters.`);
  if (!path.startsWith('/')) throw new BadRequest('Request path must start with "/".');
  if (ENCODED_AMBIGUOUS.test(path)) throw new BadRequest('Request path contains an encoded "/", ".", "\\" or NUL, which the gateway refuses.');
  if (ENCODED_UNRESERVED.test(path)) throw new BadRequest('Request path contains a percent-encoded letter, digit, "-" or "_", which the gateway refuses (send it as it is).');
  if (path.includes('\\') || path.includes('\0')) throw new BadRequest('Request path contains "\\" or NUL, which the gateway refuses.');
  if (path.includes('//')) throw new BadRequest('Request path contains an empty segment ("//"), which the gateway refuses.');
  if (DOT_SEGMENT.test(path)) throw new BadRequest('Request path contains a "." or ".." segment, which the gateway refuses.');
  if (/%(?![0-9a-f]{2})/i.test(path)) throw new BadRequest('Request path contains malformed percent-encoding.');
}

const NONE_APPLIED = Object.freeze([]) as unknown as string[];

export function rewritePath(path: string, query: string, rewrites: ReadonlyArray<CompiledRewrite>, limits: PathLimits): RewriteResult {
  checkUnambiguousPath(path, query, limits);
  let current = path;
  let applied: string[] | undefined;
  for (const rule of rewrites) {
    const next = rule.apply(current);
    if (next !== undefined) {
      current = next;
      (applied ??= []).push(rule.name);
    }
  }
  if (!applied) return { path, applied: NONE_APPLIED };
  // A regex rule could build an ambiguous path from a clean one; check the result as well.
  checkUnambiguousPath(current, query, limits);
  return { path: current, applied };
}

/**
 * The stage: the canonical upstream path into the scope; a mount prefix named without its slash
 * (`GET /mlflow`) is answered here with a redirect to `/mlflow/` (prefix-redirect.ts says why).
 */
export function rewriting(rewrites: ReadonlyArray<CompiledRewrite>, limits: PathLimits): Stage {
  return function rewriting(scope, next) {
    const rewritten = rewritePath(scope.path, scope.query, rewrites, limits);
    scope.upstreamPath = rewritten.path;
    if (rewritten.applied.length > 0) scope.rewrites = rewritten.applied;
    const redirect = prefixRedirect(scope.method, scope.path, scope.query, rewrites);
    if (!redirect) return next(scope);
    scope.redirected = true;
    return Promise.resolve(redirectResponse(redirect, scope.requestId));
  };
}
