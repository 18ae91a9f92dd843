// Is the SageMaker backend serving? For `readiness.checkBackendStatus`: the control plane's own
// answer (DescribeMlflowTrackingServer / DescribeMlflowApp), so a stopped or updating tracking server
// shows in /-/ready by name instead of as a stream of failing MLflow calls.
// Needs sagemaker:DescribeMlflowTrackingServer or sagemaker:DescribeMlflowApp on the ARN (iam-policy).
import type { SageMakerBackend, SageMakerMode } from '../backends/sagemaker.ts';
import type { CredentialProvider } from './credentials.ts';
import { describeBackend, sageMakerControlPlaneClient, type BackendDescription } from './sagemaker-client.ts';

/** What the control plane says: `status` is its word for the state (Created, Stopped, not found...). */
export interface BackendStatus {
  serving: boolean;
  status: string;
}

// The statuses in which the server answers MLflow calls. AWS documents the enums (TrackingServerStatus,
// MlflowAppStatus; API reference and the SDK's models) but not which of them serve, so this is our
// reading: a finished create, update, start or maintenance serves; anything in progress (Creating,
// Updating, Stopping, Starting, MaintenanceInProgress, Deleting), Stopped, Deleted and every *Failed
// state do not. A tracking server must also report IsActive: Active when it says anything.
const SERVING: Record<SageMakerMode, ReadonlySet<string>> = {
  'tracking-server': new Set(['Created', 'Updated', 'Started', 'MaintenanceComplete']),
  'mlflow-app': new Set(['Created', 'Updated']),
};

export function backendStatusOf(mode: SageMakerMode, description: BackendDescription): BackendStatus {
  const status = description.status ?? 'no status';
  if (!SERVING[mode].has(status)) return { serving: false, status };
  if (mode === 'tracking-server' && description.isActive !== undefined && description.isActive !== 'Active') {
    return { serving: false, status: `${status}, ${description.isActive}` };
  }
  return { serving: true, status };
}

/**
 * Asks the control plane once per call, within `timeoutMs`. One attempt only: a throttled or failed
 * call is tried again next period (readiness.ts caches), not retried while a health check waits.
 * ResourceNotFound is an answer (the server was deleted), not a failure; other errors are thrown.
 */
export function describeBackendStatus(
  backend: SageMakerBackend,
  credentials: CredentialProvider,
  options: { timeoutMs: number; endpoint?: string },
): () => Promise<BackendStatus> {
  const client = sageMakerControlPlaneClient(backend, credentials, { maxAttempts: 1, ...(options.endpoint ? { endpoint: options.endpoint } : {}) });
  return async () => {
    try {
      return backendStatusOf(backend.mode, await describeBackend(client, backend, AbortSignal.timeout(options.timeoutMs)));
    } catch (error) {
      if (error instanceof Error && error.name === 'ResourceNotFound') return { serving: false, status: 'not found' };
      throw error;
    }
  };
}
