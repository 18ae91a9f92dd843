// Artifacts for SageMaker backends, in one stage. SageMaker runs its tracking servers with
// --no-serve-artifacts, so MLflow's artifact API does not exist upstream: the gateway serves it from
// the tracking server's S3 root itself (artifacts/handler.ts), streaming, never through the buffered
// signing path. The locations MLflow carries are turned both ways (artifacts/locations.ts): the
// `mlflow-artifacts:/` a client sends back becomes the S3 one before signing, and S3 locations
// under the root are shown as `mlflow-artifacts:/` in the answers.
import type { Stage } from './chain.ts';
import type { ArtifactService } from '../artifacts/service.ts';
import type { Identity } from '../auth/identity.ts';
import { isArtifactApiPath, serveArtifactRequest } from '../artifacts/handler.ts';
import { askForPlainJson, LOCATION_REQUEST_OPERATIONS, rewriteRequestLocations, rewriteResponseLocations } from '../artifacts/locations.ts';
import { credentialCacheFor, type CredentialSources } from '../aws/identity-credentials.ts';
import { mayHaveBody, readBodyWithCap } from '../http/read-body.ts';
import { upstreamHeadersOf } from './headers.ts';
import { NotImplemented } from '../errors.ts';

export function artifactApi(artifacts: ArtifactService, credentials: CredentialSources, maxBodyBytes: number): Stage {
  const root = artifacts.store.root;
  return async function artifactApi(scope, next) {
    const path = scope.upstreamPath!;
    const operation = scope.operation;
    if (isArtifactApiPath(path)) {
      scope.bytesIn = Number(scope.request.headers.get('content-length') ?? 0) || 0;
      const started = performance.now();
      const response = await serveArtifactRequest(storeFor(scope.identity!, artifacts, credentials), { method: scope.method, path, query: scope.query, request: scope.request });
      scope.upstreamMs = performance.now() - started;
      response.headers.set('x-request-id', scope.requestId);
      return response;
    }
    askForPlainJson(operation, upstreamHeadersOf(scope));
    if (operation && LOCATION_REQUEST_OPERATIONS.has(operation)) {
      const request = scope.request;
      const body = scope.body ?? (mayHaveBody(request) ? await readBodyWithCap(request, maxBodyBytes, scope.bodyLease) : undefined);
      // Counted as the client sent it; the signer then sends the rewritten body.
      scope.bytesIn = body?.byteLength ?? 0;
      // The name the client reached this gateway by: the one host an mlflow-artifacts:// location may name.
      const rewritten = rewriteRequestLocations(operation, body, root, new URL(request.url).host);
      if (rewritten) scope.body = rewritten;
    }
    return rewriteResponseLocations(operation, await next(scope), root, artifacts.maxJsonRewriteBytes);
  };
}

/** A SageMaker backend without an `artifacts` section: its artifact API is not there to forward to. */
export function noArtifactApi(): Stage {
  return function noArtifactApi(scope, next) {
    if (isArtifactApiPath(scope.upstreamPath!)) throw new NotImplemented('This gateway does not serve artifacts (no `artifacts` section in its rules).');
    return next(scope);
  };
}

/** The artifact store signing as the client's own role when it has one, else as the host. */
function storeFor(identity: Identity, artifacts: ArtifactService, credentials: CredentialSources) {
  if (!identity.assumeRoleArn) return artifacts.store;
  const cache = credentialCacheFor(identity, credentials)!;
  return artifacts.storeFor(`${identity.assumeRoleArn}\n${identity.id}`, () => cache.get());
}
