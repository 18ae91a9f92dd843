// `explain`: what the gateway would do with METHOD URL for a client, without any network call.
// It runs the same pure stages as the server (rewrite, authorize, sign with placeholder
// credentials), so what it prints is what the pipeline does. Without METHOD URL, `explainClient`
// says everything a client may do: how it signs in, its policies, role and rate limit.
import type { CompiledRules, CompiledPolicy } from './rules/compile.ts';
import type { Profile } from './auth/identity.ts';
import { isReadOnlyOperation, OPERATION_NAMES, sensitiveClassOf } from './rules/operations.ts';
import { iamActionFor } from './rules/iam-actions.ts';
import { describeScope } from './scopes/policy-scope.ts';
import { explainScoped, type ScopeExplanation } from './scopes/explain-scope.ts';
import { resourcesOf } from './scopes/decide.ts';
import { GRAPHQL_FIELD_RESOURCES } from './scopes/operation-resources.ts';
import { pathParams } from './rules/operations.ts';
import { rewritePath } from './pipeline/rewrite.ts';
import { authorize, decideRequest, decisionReadsBody, type GraphqlDecider, type RequestDecision, type RequestToDecide } from './pipeline/authorize.ts';
import { methodMayHaveBody } from './http/read-body.ts';
import { isGraphqlRequest } from './pipeline/graphql-route.ts';
import { prefixRedirect } from './pipeline/prefix-redirect.ts';
import { isUiEntry } from './ui/entry.ts';
import { splitUrl } from './pipeline/receive.ts';
import { signForSageMaker } from './pipeline/sign.ts';
import { GatewayError } from './errors.ts';
import { isArtifactApiPath } from './artifacts/handler.ts';
import { LOCATION_REQUEST_OPERATIONS, LOCATION_RESPONSE_OPERATIONS } from './artifacts/locations.ts';

// Placeholder credentials: explain shows which headers are signed, never a real signature.
const EXPLAIN_CREDENTIALS = { accessKeyId: 'AKIDEXPLAIN', secretAccessKey: 'explain' };

export interface ExplainOptions {
  /**
   * The request body (`--data`), read as the authorize stage reads the client's: when the decision
   * needs it (a GraphQL document; a policy condition on the name it carries), never for GET or HEAD.
   */
  body?: string;
  /** pipeline/graphql.ts, passed in: the gateway loads the parser lazily (graphql-route.ts), so does explain's caller. */
  graphql?: GraphqlDecider;
}

/**
 * `depends`: only scoped grants allow it and the verdict rests on what lookups would answer (an id's
 * experiment); `allowed` is then true, meaning "not refused by the request alone".
 */
export async function explain(rules: CompiledRules, method: string, url: string, clientId?: string, options: ExplainOptions = {}): Promise<{ lines: string[]; allowed: boolean; depends?: true }> {
  const upperMethod = method.toUpperCase();
  const { path, query } = url.includes('://') ? splitUrl(url) : splitUrl(`http://gateway${url.startsWith('/') ? '' : '/'}${url}`);
  const lines: string[] = [`request     ${upperMethod} ${path}${query ? `?${query}` : ''}`];
  const row = (label: string, text: string) => lines.push(`${label.padEnd(11)} ${text}`);

  // The gateway's own endpoints answer before the pipeline (app.ts createApp): no sign-in, never forwarded.
  const { liveness, readiness } = rules.source.endpoints;
  if (upperMethod === 'GET' && (path === liveness || path === readiness)) {
    row('endpoint', `${path === liveness ? 'liveness' : 'readiness'}, answered by the gateway itself without sign-in (never forwarded)`);
    row('decision', 'ALLOW: a gateway endpoint');
    return { lines, allowed: true };
  }

  let identity: Profile | undefined;
  if (clientId === undefined) {
    identity = rules.auth.anonymous;
    row('client', identity ? 'anonymous (no credentials; anonymous access is configured)' : 'none given (--client ID); without credentials the answer is 401');
  } else {
    identity = rules.clientsById.get(clientId);
    if (!identity) {
      row('client', `unknown client "${clientId}"; known: ${[...rules.clientsById.keys()].join(', ') || 'none'}`);
      row('decision', 'DENY (401): no client of these rules has that id, so no credential of it signs in');
      return { lines, allowed: false };
    }
    row('client', `${identity.id}, policies: ${identity.policies.map((p) => p.name).join(', ')}`);
  }

  if (rules.backend.kind === 'sagemaker' && isUiEntry(rules.ui, path)) {
    row('ui entry', `${rules.ui.path}: a browser visit, answered with a redirect to a fresh presigned UI link (never forwarded)`);
    row('operation', 'AccessUI');
    if (!identity) {
      const who = [...rules.clientsById.values()].filter((c) => authorize(c, upperMethod, path, 'AccessUI').allowed).map((c) => c.id);
      row('allowed to', who.length ? who.join(', ') : 'no client');
      return { lines, allowed: false };
    }
    const decision = authorize(identity, upperMethod, path, 'AccessUI');
    const allowed = decision.allowed && upperMethod === 'GET';
    row('decision', allowed ? `ALLOW by policy ${decision.policy}: ${decision.reason}` : upperMethod !== 'GET' ? 'DENY (405): the entry is opened with GET' : `DENY (403): ${decision.reason}`);
    if (allowed) row('control', `${rules.backend.mode === 'tracking-server' ? 'CreatePresignedMlflowTrackingServerUrl' : 'CreatePresignedMlflowAppUrl'}, link valid ${rules.ui.presignedUrlExpiresSeconds} s, session ${rules.ui.sessionExpiresSeconds} s`);
    return { lines, allowed };
  }

  let upstreamPath: string;
  try {
    const rewritten = rewritePath(path, query, rules.rewrites, rules.source.limits);
    upstreamPath = rewritten.path;
    row('rewrites', rewritten.applied.length ? `${rewritten.applied.join(', ')} → ${upstreamPath}` : `none (path sent as is)`);
  } catch (error) {
    row('refused', `400: ${error instanceof GatewayError ? error.message : String(error)}`);
    return { lines, allowed: false };
  }

  const redirect = prefixRedirect(upperMethod, path, query, rules.rewrites);
  if (redirect && identity) {
    row('redirect', `302 to ${redirect}: the UI under a mount prefix needs the trailing slash (never forwarded)`);
    return { lines, allowed: true };
  }

  // The request as the authorize stage sees it (pipeline/authorize.ts RequestToDecide), decided by
  // the same function: whatever the decision reads of the query and body, explain reads alike.
  const request: RequestToDecide = { method: upperMethod, path: upstreamPath, query };
  if (options.body) {
    if (methodMayHaveBody(upperMethod)) request.body = new TextEncoder().encode(options.body);
    else row('body', `--data ignored: the gateway reads no body of a ${upperMethod}`);
  }
  const decide = (profile: Profile): RequestDecision | GatewayError => {
    try {
      return decideRequest(profile, request, options.graphql);
    } catch (error) {
      if (error instanceof GatewayError) return error;
      throw error;
    }
  };

  if (!identity) {
    const who = [...rules.clientsById.values()].filter((c) => { const d = decide(c); return !(d instanceof GatewayError) && (d.allowed || d.scoped || d.scopedOperations); }).map((c) => c.id);
    const decision = authorize({ id: '-', policies: [] }, upperMethod, upstreamPath);
    row('operation', operationFacts(decision.operation));
    row('decision', 'DENY (401): sign in first');
    row('allowed to', who.length ? who.join(', ') : 'no client');
    return { lines, allowed: false };
  }

  const graphqlRequest = isGraphqlRequest(upstreamPath);
  if (graphqlRequest && !options.graphql) {
    row('refused', 'GraphQL is decided by its document: give the body with --data');
    return { lines, allowed: false };
  }
  const decided = decide(identity);
  if (decided instanceof GatewayError) {
    // The document itself is refused before any policy is asked (unreadable, introspection, ...).
    row('operation', 'GraphQL');
    row('decision', `DENY (${decided.status}): ${decided.message}`);
    return { lines, allowed: false };
  }
  const decision = decided;
  row('operation', graphqlRequest ? decision.operation ?? 'GraphQL' : operationFacts(decision.operation));
  // Only scoped grants allow it: what the request touches decides (scopes/explain-scope.ts).
  const scoped = await explainScopes(decision, identity, request, new Headers());
  if (scoped) for (const [label, text] of scoped.rows) row(label, text);
  const allowed = scoped ? scoped.verdict !== 'deny' : decision.allowed;
  const denied = decision.denied ? `${decision.denied} (through GraphQL): ` : '';
  if (scoped?.verdict === 'depends') row('decision', `DEPENDS on the lookups above (policy ${scoped.policy})`);
  else if (scoped) row('decision', scoped.verdict === 'allow' ? `ALLOW by policy ${scoped.policy}: within its scope` : `DENY (403): ${denied}no scoped grant covers what the request touches`);
  else row('decision', decision.allowed ? `ALLOW by policy ${decision.policy}: ${decision.reason}` : `DENY (403): ${denied}${decision.reason}`);
  if (!allowed && !request.body && decisionReadsBody(identity, upperMethod, upstreamPath)) {
    row('hint', methodMayHaveBody(upperMethod) ? 'the decision reads the request body: give it with --data' : `the decision reads a body, which a ${upperMethod} does not carry`);
  }
  if (!allowed || graphqlRequest) return { lines, allowed, ...(scoped?.verdict === 'depends' ? { depends: true } : {}) };
  if (identity.assumeRoleArn) row('role', `signed as ${identity.assumeRoleArn} (session ${identity.id})`);

  const backend = rules.backend;
  if (backend.kind === 'sagemaker' && isArtifactApiPath(upstreamPath)) {
    const root = rules.artifacts?.root?.uri ?? (rules.artifacts ? 'the root discovered at start-up' : undefined);
    row('served', root ? `by the gateway from S3 under ${root} (never sent to SageMaker)` : '501: no `artifacts` section, the gateway does not serve artifacts');
    return { lines, allowed: root !== undefined };
  }
  if (backend.kind === 'sagemaker' && rules.artifacts && decision.operation) {
    const rewrites = [
      LOCATION_REQUEST_OPERATIONS.has(decision.operation) ? 'mlflow-artifacts:/ → s3:// in the request' : '',
      LOCATION_RESPONSE_OPERATIONS.has(decision.operation) ? 's3:// → mlflow-artifacts:/ in the answer' : '',
    ].filter(Boolean);
    if (rewrites.length) row('locations', rewrites.join('; '));
  }
  if (backend.kind === 'sagemaker') {
    try {
      const outgoing = signForSageMaker(
        { method: upperMethod, path: upstreamPath, query, headers: [], body: undefined },
        backend,
        EXPLAIN_CREDENTIALS,
        new Date(),
      );
      row('upstream', `${upperMethod} ${outgoing.url}`);
      row('backend', `SageMaker ${backend.mode} ${backend.arn}`);
      row('signing', `SigV4, service ${backend.signingName}, region ${backend.region}, signed headers ${outgoing.signedHeaders} (+content-type when sent)`);
      row('routing', `${backend.routingHeader}: ${backend.arn}`);
    } catch (error) {
      row('refused', `400: ${error instanceof GatewayError ? error.message : String(error)}`);
      return { lines, allowed: false };
    }
  } else {
    row('upstream', `${upperMethod} ${backend.baseUrl}${upstreamPath}${query ? `?${query}` : ''}`);
    row('backend', `self-hosted MLflow (no signing), Host: ${backend.host}`);
  }
  return { lines, allowed: true, ...(scoped?.verdict === 'depends' ? { depends: true } : {}) };
}

/**
 * A decision left to scoped grants, explained: the REST request's resources, or each GraphQL root
 * field's (the document is allowed when every field is). Undefined when no scope decides it.
 */
async function explainScopes(decision: RequestDecision, identity: Profile, request: RequestToDecide, headers: Headers): Promise<ScopeExplanation | undefined> {
  if (decision.scoped) {
    const operation = decision.operation;
    return explainScoped(resourcesOf(operation), decision.scoped, identity, {
      method: request.method,
      query: request.query,
      ...(request.body ? { body: request.body } : {}),
      headers,
      pathParams: operation ? pathParams(operation, request.method, request.path) : [],
    });
  }
  if (!decision.scopedOperations || !decision.asked) return undefined;
  const rows: Array<[string, string]> = [];
  let verdict: ScopeExplanation['verdict'] = 'allow';
  let policy: string | undefined;
  for (const root of decision.asked.roots) {
    const grants = decision.scopedOperations.get(root.operation);
    if (!grants) continue;
    const field = await explainScoped(GRAPHQL_FIELD_RESOURCES[root.field], grants, identity, { method: 'POST', query: '', body: new TextEncoder().encode(JSON.stringify(root.args)), headers: new Headers(), pathParams: [] });
    rows.push(...field.rows.map(([label, text]): [string, string] => [label, `${root.field}: ${text}`]));
    if (field.verdict === 'deny') verdict = 'deny';
    else if (field.verdict === 'depends' && verdict === 'allow') verdict = 'depends';
    policy ??= field.policy;
  }
  return { rows, verdict, ...(policy ? { policy } : {}) };
}

/** Everything one client may do, for security reviews: `explain --rules FILE --client ID`. */
export function explainClient(rules: CompiledRules, clientId: string): { lines: string[]; found: boolean } {
  const client = rules.clientsById.get(clientId) ?? (clientId === 'anonymous' ? rules.auth.anonymous : undefined);
  if (!client) {
    return { lines: [`unknown client "${clientId}"; known: ${[...rules.clientsById.keys(), ...(rules.auth.anonymous ? ['anonymous'] : [])].join(', ') || 'none'}`], found: false };
  }
  const lines: string[] = [];
  const row = (label: string, text: string) => lines.push(`${label.padEnd(11)} ${text}`);
  row('client', client.id);
  const spec = rules.source.clients.find((c) => c.id === clientId);
  if (spec) {
    const certificates = certificateLines(rules, clientId);
    const keys = [...rules.auth.apiKeys.values()].filter((k) => k.identity.id === clientId);
    const expiries = keys.map((k) => (k.expiresAtMs === undefined ? 'never expires' : `expires ${new Date(k.expiresAtMs).toISOString()}`));
    row('sign-in', [
      keys.length ? `${keys.length} API key(s) (${expiries.join('; ')})` : undefined,
      rules.auth.passwords.has(clientId) ? `HTTP Basic as "${clientId}"` : undefined,
      spec.subjects?.length ? `token subject(s) ${spec.subjects.join(', ')}` : undefined,
      certificates.matched ? `${certificates.matched} client certificate match(es)` : undefined,
    ].filter(Boolean).join('; ') || 'none: this client cannot sign in');
    for (const line of certificates.lines) row('certificate', line);
  } else {
    row('sign-in', 'none needed: requests without credentials');
  }
  row('policies', client.policies.map((p) => p.name).join(', ') || 'none');
  const operations = allowedOperations(client.policies);
  row('operations', describeOperations(operations));
  for (const line of scopeNotes(client.policies)) row('scope', line);
  for (const policy of client.policies) for (const grant of policy.grants) row('path rule', `${grant.source} (policy ${grant.policy})`);
  row('role', client.assumeRoleArn ? `${client.assumeRoleArn} (session name and source identity "${clientId}")` : 'the host\'s credentials');
  row('rate limit', client.rateLimit ? `${client.rateLimit.requestsPerSecond}/s, burst ${client.rateLimit.burst}` : 'none');
  return { lines, found: true };
}

/** The certificates that sign in as this client (auth.albMtls), each as it is matched. */
function certificateLines(rules: CompiledRules, clientId: string): { matched: number; lines: string[] } {
  const mtls = rules.auth.albMtls;
  const entries = [...(mtls?.rules.values() ?? [])].flat().filter((rule) => rule.client.id === clientId);
  if (!mtls) {
    const written = rules.source.clients.find((c) => c.id === clientId)?.certificates?.length ?? 0;
    return { matched: 0, lines: written ? [`${written} listed, but the rules have no auth.albMtls: not read, none signs in`] : [] };
  }
  const how = mtls.mode === 'verify'
    ? 'ALB mTLS verify: the ALB checked the chain; the gateway checks validity'
    : `ALB mTLS passthrough: the gateway verifies the chain against ${mtls.anchors.length} CA(s)${mtls.crls.size ? ` and ${mtls.crls.size} CRL(s)` : ''}`;
  return { matched: entries.length, lines: entries.map((rule) => `${rule.text} (${how})`) };
}

/** `LogMetric (write; IAM sagemaker-mlflow:LogMetric)`: what the table knows about an operation. */
function operationFacts(operation: string | undefined): string {
  if (!operation) return 'none (not an MLflow operation)';
  const sensitive = sensitiveClassOf(operation);
  const action = iamActionFor(operation);
  return `${operation} (${[
    isReadOnlyOperation(operation) ? 'read' : 'write',
    sensitive ? `sensitive: ${sensitive}, granted only by name` : undefined,
    action ? `IAM sagemaker-mlflow:${action}` : 'no published IAM action',
  ].filter(Boolean).join('; ')})`;
}

/** `all 158 a wildcard reaches, plus sensitive: CreateWebhook` rather than 158 names, when that is what it is. */
function describeOperations(operations: ReadonlyArray<string>): string {
  const ordinary = OPERATION_NAMES.filter((op) => !sensitiveClassOf(op));
  const sensitive = operations.filter((op) => sensitiveClassOf(op));
  if (operations.length === OPERATION_NAMES.length) return `all ${operations.length}`;
  if (ordinary.every((op) => operations.includes(op))) {
    return `all ${ordinary.length} but the sensitive ones${sensitive.length ? `, plus sensitive: ${sensitive.join(', ')}` : ' (named only; check lists them)'}`;
  }
  return `${operations.length}: ${operations.join(', ') || 'none'}`;
}

function allowedOperations(policies: ReadonlyArray<CompiledPolicy>): string[] {
  return OPERATION_NAMES.filter((operation) => policies.some((policy) => policy.operations.has(operation)));
}

/**
 * Per policy: the scopes its grants stay within, and on how many of its operations (an included
 * policy's operations carry its own scope and the including one's, so a policy may have several).
 */
function scopeNotes(policies: ReadonlyArray<CompiledPolicy>): string[] {
  const notes: string[] = [];
  for (const policy of policies) {
    const byScope = new Map<string, number>();
    let unscoped = 0;
    for (const origin of [...policy.operations.values(), ...policy.grants]) {
      if (!origin.scopes) {
        unscoped++;
        continue;
      }
      const key = origin.scopes.map(describeScope).join(' and ');
      byScope.set(key, (byScope.get(key) ?? 0) + 1);
    }
    for (const [scope, count] of byScope) {
      notes.push(`${policy.name}: ${count} grant(s) within ${scope}${unscoped ? `; ${unscoped} unscoped` : ''}`);
    }
  }
  return notes;
}
