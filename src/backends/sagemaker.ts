// Everything about a SageMaker MLflow backend follows from its ARN, exactly as the official plugin
// decides it (aws/sagemaker-mlflow, sagemaker_mlflow/mlflow_sagemaker_helpers.py and auth.py):
//
//   kind             ARN resource              base URL                                  routing header                     signing name
//   tracking server  mlflow-tracking-server/N  https://REGION.experiments.sagemaker.aws   x-mlflow-sm-tracking-server-arn   sagemaker-mlflow
//   MLflow App       mlflow-app/app-XXXX       https://mlflow.sagemaker.REGION.app.aws    x-sm-mlflow-app-arn               sagemaker
//
// Only the `aws` and `aws-us-gov` partitions are known to serve SageMaker MLflow; both use `.aws`.

export type SageMakerMode = 'tracking-server' | 'mlflow-app';

export interface SageMakerBackend {
  kind: 'sagemaker';
  arn: string;
  mode: SageMakerMode;
  partition: string;
  region: string;
  account: string;
  /** Tracking-server name or app id. */
  resourceName: string;
  /** Scheme + host (+ port), no trailing slash. Never taken from a client request. */
  baseUrl: string;
  /** The Host header value signed and sent. */
  host: string;
  signingName: 'sagemaker-mlflow' | 'sagemaker';
  routingHeader: 'x-mlflow-sm-tracking-server-arn' | 'x-sm-mlflow-app-arn';
}

export const ROUTING_HEADERS = ['x-mlflow-sm-tracking-server-arn', 'x-sm-mlflow-app-arn'] as const;

const ARN_PATTERN =
  /^arn:(aws|aws-us-gov):sagemaker:([a-z]{2}(?:-gov)?-[a-z]+-\d):(\d{12}):(mlflow-tracking-server|mlflow-app)\/([A-Za-z0-9][A-Za-z0-9-]{0,255})$/;

/** Parses a SageMaker MLflow ARN; returns a human-readable problem instead of throwing. */
export function parseMlflowArn(arn: string): { ok: true; value: Omit<SageMakerBackend, 'baseUrl' | 'host'> } | { ok: false; problem: string } {
  const match = ARN_PATTERN.exec(arn);
  if (!match) {
    return {
      ok: false,
      problem:
        'not a SageMaker MLflow ARN; expected arn:aws:sagemaker:REGION:ACCOUNT:mlflow-tracking-server/NAME or ' +
        'arn:aws:sagemaker:REGION:ACCOUNT:mlflow-app/app-ID',
    };
  }
  const [, partition, region, account, resourceType, resourceName] = match as unknown as [string, string, string, string, string, string];
  const mode: SageMakerMode = resourceType === 'mlflow-app' ? 'mlflow-app' : 'tracking-server';
  // An MLflow App is named by its id (app-XXXX, as CreateMlflowApp returns it), never by the name it was given.
  if (mode === 'mlflow-app' && !/^app-[A-Za-z0-9]+$/.test(resourceName)) {
    return { ok: false, problem: `not a SageMaker MLflow ARN: an MLflow App ARN ends in its id, mlflow-app/app-ID (e.g. app-ABCDEF012345), not "${resourceName}"` };
  }
  return {
    ok: true,
    value: {
      kind: 'sagemaker',
      arn,
      mode,
      partition,
      region,
      account,
      resourceName,
      signingName: mode === 'mlflow-app' ? 'sagemaker' : 'sagemaker-mlflow',
      routingHeader: mode === 'mlflow-app' ? 'x-sm-mlflow-app-arn' : 'x-mlflow-sm-tracking-server-arn',
    },
  };
}

export function defaultBaseUrl(mode: SageMakerMode, region: string): string {
  return mode === 'mlflow-app'
    ? `https://mlflow.sagemaker.${region}.app.aws`
    : `https://${region}.experiments.sagemaker.aws`;
}

/**
 * Builds the backend from an ARN and an optional endpoint override (the plugin's
 * SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT: it replaces the whole base URL and the signing host follows it).
 */
export function sagemakerBackend(arn: string, endpoint?: string): { ok: true; value: SageMakerBackend } | { ok: false; problem: string } {
  const parsed = parseMlflowArn(arn);
  if (!parsed.ok) return parsed;
  const base = endpoint && endpoint.length > 0 ? endpoint : defaultBaseUrl(parsed.value.mode, parsed.value.region);
  const url = parseBaseUrl(base);
  if (!url.ok) return url;
  return { ok: true, value: { ...parsed.value, baseUrl: url.value.origin, host: url.value.host } };
}

/** A base URL must be an absolute http(s) URL without path, query or credentials. */
export function parseBaseUrl(base: string): { ok: true; value: URL } | { ok: false; problem: string } {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    return { ok: false, problem: `not an absolute URL: ${JSON.stringify(base)}` };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, problem: 'must be an http:// or https:// URL' };
  if (url.username || url.password) return { ok: false, problem: 'must not contain credentials' };
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    return { ok: false, problem: 'must be a base URL without path, query or fragment (e.g. https://host:443)' };
  }
  return { ok: true, value: url };
}
