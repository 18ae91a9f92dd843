// Facts about a request that policy conditions look at, taken from the request itself (never from
// the upstream). Only an experiment's name is such a fact today, and only these calls carry one:
//
//   CreateExperiment       POST body  {"name": ...}
//   GetExperimentByName    GET query  experiment_name=...
//   UpdateExperiment       POST body  {"new_name": ...}   (the name it is renamed to)
//
// Every other call names experiments and runs by id; which experiment an id belongs to is only known
// upstream, so a name condition cannot restrict those calls (README, "Conditions").
import type { Profile } from '../auth/identity.ts';

export interface RequestFacts {
  /** The experiment name the request names; undefined when it names none or it could not be read. */
  experimentName?: string;
}

const NAME_IN_BODY: Readonly<Record<string, string>> = { CreateExperiment: 'name', UpdateExperiment: 'new_name' };
const NAME_IN_QUERY: Readonly<Record<string, string>> = { GetExperimentByName: 'experiment_name' };

/** The operations whose requests carry an experiment name, so a name condition applies to them. */
export function namesAnExperiment(operation: string | undefined): boolean {
  return operation !== undefined && (operation in NAME_IN_BODY || operation in NAME_IN_QUERY);
}

/** Whether deciding this request needs its facts: a name-carrying call by a client with a conditioned policy. */
export function needsFacts(identity: Profile, operation: string | undefined): boolean {
  if (!namesAnExperiment(operation)) return false;
  return identity.policies.some((policy) => {
    for (const origin of policy.operations.values()) if (origin.conditions) return true;
    return policy.grants.some((grant) => grant.conditions);
  });
}

/** Whether the request's body must be read to learn its facts. */
export function factsInBody(operation: string | undefined): boolean {
  return operation !== undefined && operation in NAME_IN_BODY;
}

export function requestFacts(operation: string | undefined, query: string, body: Uint8Array | undefined): RequestFacts {
  if (operation === undefined) return {};
  const queryKey = NAME_IN_QUERY[operation];
  if (queryKey) {
    const value = new URLSearchParams(query).getAll(queryKey);
    // Two values would leave it to the upstream which one counts: treat as unreadable.
    return value.length === 1 ? { experimentName: value[0]! } : {};
  }
  const bodyKey = NAME_IN_BODY[operation];
  if (!bodyKey || !body) return {};
  try {
    const parsed: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
    const value = parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>)[bodyKey] : undefined;
    return typeof value === 'string' ? { experimentName: value } : {};
  } catch {
    return {};
  }
}
