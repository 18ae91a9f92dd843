// The UI entry of a SageMaker backend (`ui.path`, e.g. /ui): a gateway path of its own, matched
// before rewrites. It authorizes `AccessUI` and answers with a redirect to a fresh presigned URL
// (ui/entry.ts) instead of a forwarded call; every other path goes on down the list.
import type { Stage } from './chain.ts';
import type { RequestScope } from './scope.ts';
import type { SageMakerBackend } from '../backends/sagemaker.ts';
import type { PolicyDirectory } from '../auth/identity.ts';
import { isUiEntry, redirectToSageMakerUi, type UiSettings } from '../ui/entry.ts';
import { authorize, wouldAllow } from './authorize.ts';
import { credentialCacheFor, type CredentialSources } from '../aws/identity-credentials.ts';
import { MethodNotAllowed, PermissionDenied, SigningFailed } from '../errors.ts';

/** A person waits at a blank page while the link is minted: give up sooner than for MLflow calls. */
const UI_ENTRY_TIMEOUT_MS = 15_000;

export interface UiEntryOptions {
  settings: UiSettings;
  backend: SageMakerBackend;
  directory: PolicyDirectory;
  credentials: CredentialSources;
  upstreamTimeoutMs: number;
}

export function uiEntry(options: UiEntryOptions): Stage {
  const { settings, backend, directory, credentials } = options;
  const timeoutMs = Math.min(options.upstreamTimeoutMs, UI_ENTRY_TIMEOUT_MS);
  // Every other path passes on synchronously; only the entry itself waits for the control plane.
  return function uiEntry(scope, next) {
    return isUiEntry(settings, scope.path) ? openUi(scope) : next(scope);
  };
  async function openUi(scope: RequestScope): Promise<Response> {
    if (scope.method !== 'GET') throw new MethodNotAllowed(['GET'], `The UI entry ${settings.path} is opened with GET (a browser visit).`);
    const identity = scope.identity!;
    const decision = authorize(identity, scope.method, scope.path, 'AccessUI');
    scope.operation = 'AccessUI';
    if (!decision.allowed) {
      const fix = wouldAllow(directory, scope.method, scope.path, 'AccessUI');
      scope.decision = { allowed: false, reason: decision.reason, ...(fix ? { wouldAllow: fix } : {}) };
      throw new PermissionDenied(`Client "${identity.id}" may not open the MLflow UI (AccessUI).`, decision.reason);
    }
    scope.decision = { allowed: true, policy: decision.policy!, reason: decision.reason };
    const cache = credentialCacheFor(identity, credentials);
    if (!cache) throw new SigningFailed('no credential source configured');
    const started = performance.now();
    try {
      return await redirectToSageMakerUi({ backend, settings, credentials: cache, query: scope.query, requestId: scope.requestId, timeoutMs });
    } finally {
      scope.upstreamMs = performance.now() - started;
    }
  }
}
