// A self-hosted MLflow server (`backend.url`): on-prem MLflow and local development. No SigV4;
// optionally one static header (e.g. a shared secret an ingress in front of MLflow checks).
import { parseBaseUrl } from './sagemaker.ts';

export interface PlainMlflowBackend {
  kind: 'mlflow';
  baseUrl: string;
  /** Host header sent upstream. MLflow 3.5+ refuses Hosts outside its --allowed-hosts list. */
  host: string;
  staticHeaders: Record<string, string>;
}

export function plainMlflowBackend(
  url: string,
  options: { hostHeader?: string; staticHeaders?: Record<string, string> } = {},
): { ok: true; value: PlainMlflowBackend } | { ok: false; problem: string } {
  const parsed = parseBaseUrl(url);
  if (!parsed.ok) return parsed;
  return {
    ok: true,
    value: {
      kind: 'mlflow',
      baseUrl: parsed.value.origin,
      host: options.hostHeader ?? parsed.value.host,
      staticHeaders: Object.fromEntries(Object.entries(options.staticHeaders ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    },
  };
}
