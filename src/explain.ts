// `explain`: what the gateway would do with METHOD URL for a client, without any network call.
// It runs the same pure stages as the server (rewrite, authorize, sign with placeholder
// credentials), so what it prints is what the pipeline does.
import type { CompiledRules, Identity } from './rules/compile.ts';
import { rewritePath } from './pipeline/rewrite.ts';
import { authorize } from './pipeline/authorize.ts';
import { splitUrl } from './pipeline/receive.ts';
import { signForSageMaker } from './pipeline/sign.ts';
import { GatewayError } from './errors.ts';
import { isArtifactApiPath } from './artifacts/handler.ts';
import { LOCATION_REQUEST_OPERATIONS, LOCATION_RESPONSE_OPERATIONS } from './artifacts/locations.ts';

// Placeholder credentials: explain shows which headers are signed, never a real signature.
const EXPLAIN_CREDENTIALS = { accessKeyId: 'AKIDEXPLAIN', secretAccessKey: 'explain' };

export function explain(rules: CompiledRules, method: string, url: string, clientId?: string): { lines: string[]; allowed: boolean } {
  const upperMethod = method.toUpperCase();
  const { path, query } = url.includes('://') ? splitUrl(url) : splitUrl(`http://gateway${url.startsWith('/') ? '' : '/'}${url}`);
  const lines: string[] = [`request     ${upperMethod} ${path}${query ? `?${query}` : ''}`];
  const row = (label: string, text: string) => lines.push(`${label.padEnd(11)} ${text}`);

  let identity: Identity | undefined;
  if (clientId === undefined) {
    identity = rules.anonymous;
    row('client', identity ? 'anonymous (no credentials; anonymous access is configured)' : 'none given (--client ID); without credentials the answer is 401');
  } else {
    identity = rules.clientsById.get(clientId);
    if (!identity) {
      row('client', `unknown client "${clientId}"; known: ${[...rules.clientsById.keys()].join(', ') || 'none'}`);
      return { lines, allowed: false };
    }
    row('client', `${identity.id} (${identity.authMethod}), policies: ${identity.policies.map((p) => p.name).join(', ')}`);
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

  if (!identity) {
    const who = [...rules.clientsById.values()].filter((c) => authorize(c, upperMethod, upstreamPath).allowed).map((c) => c.id);
    const decision = authorize({ id: '-', authMethod: 'anonymous', policies: [] }, upperMethod, upstreamPath);
    row('operation', decision.operation ?? 'none (not an MLflow operation)');
    row('allowed to', who.length ? who.join(', ') : 'no client');
    return { lines, allowed: false };
  }

  const decision = authorize(identity, upperMethod, upstreamPath);
  row('operation', decision.operation ?? 'none (not an MLflow operation)');
  row('decision', decision.allowed ? `ALLOW by policy ${decision.policy}: ${decision.reason}` : `DENY (403): ${decision.reason}`);
  if (!decision.allowed) return { lines, allowed: false };

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
