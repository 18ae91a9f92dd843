// The audit line's decision is derived in one place (pipeline/scope.ts) from what the stages wrote
// into the scope and the error that ended the request: a table of every outcome.
import { describe, expect, test } from 'bun:test';
import { auditDecision, auditReason, type RequestScope, type ScopeDecision } from '../../src/pipeline/scope.ts';
import { receive } from '../../src/pipeline/receive.ts';
import type { Identity } from '../../src/auth/identity.ts';
import {
  BadFraming,
  BadRequest,
  ClientClosed,
  MethodNotAllowed,
  MisdirectedRequest,
  PermissionDenied,
  RateLimited,
  Unauthenticated,
  AuthProviderUnavailable,
  UpstreamTimeout,
  type GatewayError,
} from '../../src/errors.ts';

const identity: Identity = { id: 'ci', authMethod: 'api-key', policies: [] };
const allowed: ScopeDecision = { allowed: true, policy: 'p', reason: 'operation GetRun' };
const denied: ScopeDecision = { allowed: false, reason: 'no policy of ci allows operation DeleteRun' };

function scopeWith(fields: Partial<RequestScope>): RequestScope {
  return Object.assign(receive(new Request('http://gw/api/2.0/mlflow/runs/get'), '127.0.0.1', false), fields);
}

describe('the audit decision', () => {
  test.each<[string, Partial<RequestScope>, GatewayError | undefined, string]>([
    ['a Host that is not the gateway\'s', {}, new MisdirectedRequest('evil.example'), 'rejected'],
    ['two Content-Length headers', {}, new BadFraming('5, 5'), 'rejected'],
    ['no or wrong credentials', {}, new Unauthenticated('Bearer'), 'unauthenticated'],
    ['the identity provider is down', {}, new AuthProviderUnavailable(), 'unauthenticated'],
    ['too many failed sign-ins (before any identity)', {}, new RateLimited(1000), 'rate-limited'],
    ['over the client\'s rate limit', { identity }, new RateLimited(1000), 'rate-limited'],
    ['a refused path before the decision', { identity }, new BadRequest('ambiguous'), 'rejected'],
    ['the UI entry with the wrong method', { identity }, new MethodNotAllowed(['GET'], 'GET only'), 'rejected'],
    ['a GraphQL document naming an unknown field', { identity, operation: 'GraphQL' }, new PermissionDenied('unknown field'), 'denied'],
    ['a mount prefix without its slash', { identity, redirected: true }, undefined, 'redirected'],
    ['a denial', { identity, decision: denied }, new PermissionDenied('no'), 'denied'],
    ['an allowed request answered by the upstream', { identity, decision: allowed }, undefined, 'allowed'],
    ['an allowed request the upstream did not answer in time', { identity, decision: allowed }, new UpstreamTimeout(1), 'gateway'],
    ['an allowed request whose client left', { identity, decision: allowed }, new ClientClosed(), 'gateway'],
  ])('%s → %s', (_, fields, error, expected) => {
    expect(auditDecision(scopeWith({ ...fields, ...(error ? { error } : {}) }), error)).toBe(expected as never);
  });
});

describe('the audit reason', () => {
  test('a denial keeps authorize\'s reason even when the error has a detail', () => {
    const error = new PermissionDenied('no', 'detail');
    const scope = scopeWith({ identity, decision: denied, error });
    expect(auditReason(scope, auditDecision(scope, error))).toBe(denied.reason);
  });

  test('any other failure records what went wrong', () => {
    const error = new BadRequest('bad', 'Syntax Error');
    const scope = scopeWith({ identity, error });
    expect(auditReason(scope, auditDecision(scope, error))).toBe('Syntax Error');
  });

  test('an allowed request keeps how it was allowed', () => {
    const scope = scopeWith({ identity, decision: allowed });
    expect(auditReason(scope, auditDecision(scope, undefined))).toBe('operation GetRun');
  });
});
