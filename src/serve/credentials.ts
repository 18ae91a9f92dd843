// The credentials a SageMaker backend is signed with: the host's (with backend.assumeRoleArn, that
// role's), and the roles clients and groups name. The host's are fetched once before anything
// listens, so a gateway that could sign nothing refuses to start instead of answering every request
// with an error. A self-hosted MLflow backend is not signed: no credentials at all.
import { cachedCredentials, defaultCredentialProvider, type CredentialCache, type RefreshEvent } from '../aws/credentials.ts';
import { clientRoleCredentials, stsRoleProvider, type ClientRoleCredentials } from '../aws/client-roles.ts';
import type { CompiledRules } from '../rules/compile.ts';
import type { Logger } from '../observability/log.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import type { Tracing } from '../observability/tracing.ts';
import { tracedCredentialProvider, tracedRoleProviders } from '../observability/traced-io.ts';

/** Named as createApp's options name them, so serve passes them on as they are. */
export interface SigningCredentials {
  credentials?: CredentialCache;
  clientRoles?: ClientRoleCredentials;
}

export type CredentialsOutcome = { ok: true; signing: SigningCredentials } | { ok: false; problem: string };

export async function buildCredentials(rules: CompiledRules, report: { log: Logger; metrics: GatewayMetrics; tracing?: Tracing }): Promise<CredentialsOutcome> {
  if (rules.backend.kind !== 'sagemaker') return { ok: true, signing: {} };
  const { log, metrics, tracing } = report;
  // Until the first fetch below has succeeded, a failure is not a refresh that failed: it is start-up
  // finding no credentials, which refuses to start with its own message. Reported as a refresh too,
  // it said "signed requests fail with 503 until a refresh succeeds" just before the process exited
  // (issue 20 item 14).
  let started = false;
  // Host and client-role credential refreshes alike: counted, and logged with their own wording,
  // which follows what is true (issue 13 item 16): whether the credentials in hand still sign.
  const reportRefresh = (refreshed: string, failed: string) => (event: RefreshEvent) => {
    if (!event.ok && !started) return;
    metrics.credentialRefresh(event.ok);
    const retryInSeconds = Math.ceil((event.retryInMs ?? 0) / 1000);
    if (event.ok) log.log('info', refreshed, { expiration: event.expiration?.toISOString() });
    else if (event.expired) {
      log.log('error', 'credential refresh failed and the credentials have expired: signed requests fail with 503 until a refresh succeeds', { error: event.error, retryInSeconds });
    } else log.log('warn', failed, { error: event.error, retryInSeconds });
  };
  const region = rules.backend.region;
  const hostProvider = defaultCredentialProvider({ ...(rules.assumeRoleArn ? { assumeRoleArn: rules.assumeRoleArn } : {}), region });
  const credentials = cachedCredentials(
    tracing ? tracedCredentialProvider(hostProvider, tracing, { 'gateway.credentials': 'host', ...(rules.assumeRoleArn ? { 'aws.role.arn': rules.assumeRoleArn } : {}) }) : hostProvider,
    {
      onRefresh: reportRefresh('credentials refreshed', 'credential refresh failed; still using the current credentials'),
    },
  );
  try {
    await credentials.get();
    started = true;
  } catch (error) {
    return {
      ok: false,
      problem:
        `no AWS credentials could be found for signing (${error instanceof Error ? error.message : String(error)}).\n` +
        'On EC2, attach an instance profile with the SageMaker MLflow permissions; elsewhere set AWS_PROFILE or ' +
        'AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.',
    };
  }
  const roleProviders = stsRoleProvider(() => credentials.get(), region);
  const clientRoles = clientRoleCredentials(tracing ? tracedRoleProviders(roleProviders, tracing) : roleProviders, {
    onRefresh: reportRefresh('client role credentials refreshed', 'client role credentials failed'),
  });
  return { ok: true, signing: { credentials, clientRoles } };
}
