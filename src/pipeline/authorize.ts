// Stage 4, authorize: default deny. The identity's policies, in the order the client lists them,
// allow (operation) or (method, path pattern) pairs; decided on the rewritten path.
import type { Identity } from '../rules/compile.ts';
import { operationFor } from '../rules/operations.ts';

export interface Decision {
  allowed: boolean;
  /** The MLflow operation this request is, if it is one. */
  operation?: string;
  /** The client's policy that allowed it. */
  policy?: string;
  /** How: `operation LogMetric (from policy read-only)` or `GET /api/2.0/mlflow/** (from ...)`; or why not. */
  reason: string;
}

export function authorize(identity: Identity, method: string, path: string): Decision {
  const operation = operationFor(method, path);
  for (const policy of identity.policies) {
    if (operation) {
      const origin = policy.operations.get(operation);
      if (origin) {
        return { allowed: true, operation, policy: policy.name, reason: `operation ${operation}${origin !== policy.name ? ` (via ${origin})` : ''}` };
      }
    }
    for (const grant of policy.grants) {
      if ((grant.methods === '*' || grant.methods.has(method)) && grant.pattern.test(path)) {
        return {
          allowed: true,
          ...(operation ? { operation } : {}),
          policy: policy.name,
          reason: `path rule ${grant.source}${grant.policy !== policy.name ? ` (via ${grant.policy})` : ''}`,
        };
      }
    }
  }
  const what = operation ? `operation ${operation}` : `${method} ${path} (not an MLflow operation)`;
  const policies = identity.policies.map((p) => p.name).join(', ') || 'none';
  return { allowed: false, ...(operation ? { operation } : {}), reason: `no policy of ${identity.id} (${policies}) allows ${what}` };
}
