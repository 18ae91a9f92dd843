// The gateway as the fault suite (test/faults/) runs it: the real app behind the real listener
// (src/listen.ts, Bun.serve on a loopback port), so a raw-socket client meets the same HTTP stack a
// production client does, in front of the recording upstream (fault-upstream.ts). The audit lines
// are collected in memory. Both backend modes are built from one table so each behaviour sentence
// runs in both: SageMaker (signed; the upstream checks SigV4 with aws4) and self-hosted MLflow.
//
// API stability: shared with later fault work; add, do not rename.
import { afterAll } from 'bun:test';
import { createApp } from '../../src/app.ts';
import type { GatewayDeps } from '../../src/gateway-handler.ts';
import { listen, type Listener } from '../../src/listen.ts';
import { hashApiKey } from '../../src/auth/api-key.ts';
import type { AuditRecord } from '../../src/observability/audit.ts';
import type { CredentialCache } from '../../src/aws/credentials.ts';
import type { Expectation } from '../standins/sigv4-verifier.ts';
import { rulesFrom } from './rules.ts';
import { temporaryCredentials } from './credentials.ts';
import { startFaultUpstream, type FaultUpstream } from './fault-upstream.ts';
import { waitFor } from './processes.ts';

export const FAULT_ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/faults';
export const FAULT_KEY = 'fault-suite-key-0123456789abcdef';
/** What SageMaker's front end checks for FAULT_ARN (the fault upstream's `sigv4` option). */
export const FAULT_SIGV4: Expectation = { region: 'us-east-1', service: 'sagemaker-mlflow', routingHeader: 'x-mlflow-sm-tracking-server-arn', arn: FAULT_ARN };

export type BackendMode = 'sagemaker' | 'self-hosted';
export const BACKEND_MODES: BackendMode[] = ['sagemaker', 'self-hosted'];

export interface FaultGatewayOptions {
  /** Extra YAML for the `backend:` mapping, e.g. `timeoutSeconds: 2` or `headers: {x-a: b}`. */
  backend?: string;
  /** Extra top-level YAML (limits, auth, ...). Policies `everything` (all) are always there. */
  extra?: string;
  /** The YAML of the suite client's only policy, instead of `everything`, e.g. `{operations: [GetRun]}`. */
  clientPolicy?: string;
  /** Host credentials for signing; default: temporary stand-in credentials valid for an hour. */
  credentials?: CredentialCache;
  /** Passed through to createApp. */
  deps?: Partial<GatewayDeps>;
}

export interface FaultGateway {
  mode: BackendMode;
  upstream: FaultUpstream;
  port: number;
  url: string;
  audit: AuditRecord[];
  /** Requests that have entered the pipeline (their head parsed by the listener). */
  requestsStarted(): number;
  /** The audit line of a request, waited for (streamed answers are logged when their body ends). */
  auditOf(requestId: string, timeoutMs?: number): Promise<AuditRecord>;
  /** The headers that authenticate as the suite's client. */
  auth: Record<string, string>;
  stop(): Promise<void>;
}

/** Stand-in host credentials that never run out during a test. */
export function standinCredentialCache(): CredentialCache {
  const creds = temporaryCredentials(new Date(Date.now() + 3600_000), 13);
  return { get: async () => creds, cached: () => creds, expiration: () => creds.expiration, refreshes: () => 1 };
}

export function faultRulesYaml(mode: BackendMode, upstreamUrl: string, options: Pick<FaultGatewayOptions, 'backend' | 'extra' | 'clientPolicy'> = {}): string {
  const backend = mode === 'sagemaker' ? `arn: "${FAULT_ARN}", endpoint: "${upstreamUrl}"` : `url: "${upstreamUrl}"`;
  return `version: 1
backend: {${backend}${options.backend ? `, ${options.backend}` : ''}}
listen: {host: 127.0.0.1, port: 0}
clients: [{id: faults, apiKeySha256: "${hashApiKey(FAULT_KEY)}", policies: [${options.clientPolicy ? 'client' : 'everything'}]}]
policies:
  everything: {operations: ["*"], allow: [{methods: ["*"], paths: ["/**"]}]}${options.clientPolicy ? `\n  client: ${options.clientPolicy}` : ''}
${options.extra ?? ''}
`;
}

/** A fresh recording upstream and a gateway in front of it, in the given mode. */
export async function startFaultGateway(mode: BackendMode, options: FaultGatewayOptions = {}): Promise<FaultGateway> {
  const upstream = await startFaultUpstream(mode === 'sagemaker' ? { sigv4: FAULT_SIGV4 } : {});
  const rules = rulesFrom(faultRulesYaml(mode, upstream.url, options));
  const audit: AuditRecord[] = [];
  let started = 0;
  const app = createApp({
    onRequest: () => void started++,
    rules: () => rules,
    audit: { write: (record) => audit.push(record) },
    ...(mode === 'sagemaker' ? { credentials: options.credentials ?? standinCredentialCache() } : {}),
    ...options.deps,
  });
  // As main.ts does: the idle timeout outlasts the upstream timeout.
  const listener: Listener = listen(app.handle, { hostname: '127.0.0.1', port: 0, idleTimeoutSeconds: rules.upstreamTimeoutMs / 1000 + 10 });
  return {
    mode,
    upstream,
    port: listener.port,
    url: `http://127.0.0.1:${listener.port}`,
    audit,
    requestsStarted: () => started,
    async auditOf(requestId, timeoutMs = 15_000) {
      await waitFor(() => audit.some((r) => r.requestId === requestId), timeoutMs);
      return audit.find((r) => r.requestId === requestId)!;
    },
    auth: { authorization: `Bearer ${FAULT_KEY}` },
    async stop() {
      await listener.stop(true);
      await upstream.close();
    },
  };
}

/** startFaultGateway for one test file: every gateway it starts is stopped when the file ends. */
export function faultGatewaysOfThisFile(): (mode: BackendMode, options?: FaultGatewayOptions) => Promise<FaultGateway> {
  const started: FaultGateway[] = [];
  afterAll(async () => {
    for (const gateway of started) await gateway.stop();
  });
  return async (mode, options) => {
    const gateway = await startFaultGateway(mode, options);
    started.push(gateway);
    return gateway;
  };
}

/** A request id the gateway will reuse (receive.ts accepts sane incoming ids), unique per call. */
export function requestIdFor(label: string): string {
  return `fault-${label.replace(/[^A-Za-z0-9]/g, '-').slice(0, 60)}-${crypto.randomUUID().slice(0, 8)}`;
}
