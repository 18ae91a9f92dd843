// `explain`: what the gateway would do with METHOD URL for a client, without any network call.
// It runs the same pure stages as the server (rewrite, authorize, sign with placeholder
// credentials), so what it prints is what the pipeline does. Without METHOD URL, `explainClient`
// says everything a client may do: how it signs in, its policies, role and rate limit.
import type { CompiledRules, CompiledPolicy } from './rules/compile.ts';
import type { Profile } from './auth/identity.ts';
import { isReadOnlyOperation, OPERATION_NAMES, sensitiveClassOf } from './rules/operations.ts';
import { iamActionFor } from './rules/iam-actions.ts';
import { namesAnExperiment } from './pipeline/request-facts.ts';
import { rewritePath } from './pipeline/rewrite.ts';
import { authorize, authorizeEach } from './pipeline/authorize.ts';
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
  /** The request body (`--data`): a GraphQL request is decided by its document. */
  body?: string;
  /** pipeline/graphql.ts, passed in: the gateway loads the parser lazily (graphql-route.ts), so does explain's caller. */
  graphql?: Pick<typeof import('./pipeline/graphql.ts'), 'graphqlOperations' | 'graphqlOperationLabel'>;
}

export function explain(rules: CompiledRules, method: string, url: string, clientId?: string, options: ExplainOptions = {}): { lines: string[]; allowed: boolean } {
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
      const who = [...rules.clientsById.values()].filter((c) => authorize(c, upperMethod, path, {}, 'AccessUI').allowed).map((c) => c.id);
      row('allowed to', who.length ? who.join(', ') : 'no client');
      return { lines, allowed: false };
    }
    const decision = authorize(identity, upperMethod, path, {}, 'AccessUI');
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

  if (!identity) {
    const who = [...rules.clientsById.values()].filter((c) => authorize(c, upperMethod, upstreamPath).allowed).map((c) => c.id);
    const decision = authorize({ id: '-', policies: [] }, upperMethod, upstreamPath);
    row('operation', operationFacts(decision.operation));
    row('decision', 'DENY (401): sign in first');
    row('allowed to', who.length ? who.join(', ') : 'no client');
    return { lines, allowed: false };
  }

  if (isGraphqlRequest(upstreamPath)) return explainGraphql(identity, upperMethod, options, row, lines);

  const decision = authorize(identity, upperMethod, upstreamPath);
  row('operation', operationFacts(decision.operation));
  row('decision', decision.allowed ? `ALLOW by policy ${decision.policy}: ${decision.reason}` : `DENY (403): ${decision.reason}`);
  if (!decision.allowed) return { lines, allowed: false };
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
  return { lines, allowed: true };
}

/** A GraphQL request, decided as the gateway does (pipeline/authorize.ts): every operation its document performs. */
function explainGraphql(identity: Profile, method: string, options: ExplainOptions, row: (label: string, text: string) => void, lines: string[]): { lines: string[]; allowed: boolean } {
  if (!options.graphql) {
    row('refused', 'GraphQL is decided by its document: give the body with --data');
    return { lines, allowed: false };
  }
  const asked = options.graphql.graphqlOperations(method, options.body === undefined ? undefined : new TextEncoder().encode(options.body));
  if (!asked.ok) {
    row('operation', 'GraphQL');
    row('decision', `DENY (${asked.error.status}): ${asked.error.message}`);
    return { lines, allowed: false };
  }
  const decision = authorizeEach(identity, asked.operations, options.graphql.graphqlOperationLabel(asked.operations));
  row('operation', decision.operation ?? 'GraphQL');
  row('decision', decision.allowed ? `ALLOW by policy ${decision.policy}: ${decision.reason}` : `DENY (403): ${decision.denied} (through GraphQL): ${decision.reason}`);
  return { lines, allowed: decision.allowed };
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
  for (const line of conditionNotes(client.policies)) row('condition', line);
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

/** Per conditioned policy: where its condition is enforced and where it cannot be. */
function conditionNotes(policies: ReadonlyArray<CompiledPolicy>): string[] {
  const notes: string[] = [];
  for (const policy of policies) {
    const byPrefixes = new Map<string, string[]>();
    for (const [operation, origin] of policy.operations) {
      const prefixes = origin.conditions?.experimentNamePrefixes;
      if (prefixes) byPrefixes.set(prefixes.join(' | '), [...(byPrefixes.get(prefixes.join(' | ')) ?? []), operation]);
    }
    for (const [prefixes, operations] of byPrefixes) {
      const enforced = operations.filter(namesAnExperiment);
      notes.push(
        `${policy.name}: experiment names must start with ${prefixes} on ${enforced.join(', ') || 'no granted call'}; ` +
          `${operations.length - enforced.length} other granted operation(s) refer to experiments or runs by id and are not restricted`,
      );
    }
  }
  return notes;
}
