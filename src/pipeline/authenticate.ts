// Stage 2, authenticate: who is calling, with the credentials MLflow users already have:
//   Authorization: Bearer <API key>     MLFLOW_TRACKING_TOKEN (or X-API-Key: <key>)     auth/api-key.ts
//   Authorization: Bearer <JWT>         MLFLOW_TRACKING_TOKEN from an OIDC issuer        auth/jwt.ts
//   Authorization: Basic <user:pass>    MLFLOW_TRACKING_USERNAME / _PASSWORD, browsers   auth/basic.ts
//   x-amzn-oidc-data: <ALB JWT>         the load balancer's own OIDC sign-in             auth/alb.ts
//   Cookie: <auth.jwtCookie>=<JWT>      browsers whose single sign-on sets a cookie      auth/jwt.ts
//   X-Amzn-Mtls-Clientcert[-*]          a client certificate, through the ALB's mTLS     auth/alb-mtls.ts
//                                       (read only with auth.albMtls, else ignored)
// Credentials that are presented but wrong never fall back to anonymous access, and every failure
// gives the same 401 (the reason goes to the audit log only).
import type { CompiledAuth } from '../auth/directory.ts';
import type { Identity } from '../auth/identity.ts';
import { verifyApiKey } from '../auth/api-key.ts';
import { basicVerifier, parseBasic } from '../auth/basic.ts';
import { jwtVerifier, looksLikeJwt } from '../auth/jwt.ts';
import { ALB_HEADER, albVerifier } from '../auth/alb.ts';
import { mtlsVerifier } from '../auth/alb-mtls.ts';
import { cookieValue, crossSiteWrite } from '../auth/cookie.ts';
import { RateLimited, Unauthenticated } from '../errors.ts';
import type { SignInFailureGuard } from '../limits/sign-in-failures.ts';
import type { Stage } from './chain.ts';

export interface Authenticator {
  /** `method` matters only for cookie credentials, which browsers also send on other sites' forms. */
  authenticate(headers: Headers, method?: string): Promise<Identity>;
  /**
   * The same, answered at once where no I/O or slow hash is needed (an API key, anonymous access,
   * a refusal): the identity itself, or a promise of it (JWT, Basic, ALB). Throws synchronously
   * for a refusal it can make at once.
   */
  identify(headers: Headers, method?: string): Identity | Promise<Identity>;
}

/**
 * One per compiled rules: the verifiers keep caches (verified credentials, JWKS, ALB keys).
 * `issuerFetch`: how the identity providers' documents and keys are fetched (with tracing, in a span).
 */
export function createAuthenticator(auth: CompiledAuth, now: () => number = Date.now, issuerFetch: typeof fetch = fetch): Authenticator {
  const basic = auth.passwords.size ? basicVerifier(auth) : undefined;
  const jwt = auth.jwtIssuers.length ? jwtVerifier(auth, issuerFetch) : undefined;
  const alb = auth.alb ? albVerifier(auth, auth.alb, issuerFetch) : undefined;
  const mtls = auth.albMtls ? mtlsVerifier(auth, auth.albMtls) : undefined;
  const refuse = (detail: string) => new Unauthenticated(auth.challenge, detail);

  const identify = (headers: Headers, method = 'GET'): Identity | Promise<Identity> => {
    const authorization = headers.get('authorization');
    const apiKey = headers.get('x-api-key');
    const albData = headers.get(ALB_HEADER);
    // The certificate of the connection the ALB accepted: a second credential beside it is refused,
    // as any two kinds are (an API key must not silently win over, or lose to, a certificate).
    const certified = mtls?.verify(headers, now());
    if (certified) {
      if (authorization !== null || apiKey !== null || albData !== null) throw refuse('two kinds of credentials in one request (a client certificate and another)');
      return certified;
    }
    if (albData !== null) {
      if (!alb) throw refuse('alb-oidc: header present but ALB authentication is not enabled in the rules');
      if (authorization !== null || apiKey !== null) throw refuse('two kinds of credentials in one request');
      return alb.verify(albData, now());
    }
    if (authorization !== null) {
      if (apiKey !== null) throw refuse('two kinds of credentials in one request');
      const bearer = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
      if (bearer) {
        const token = bearer[1]!;
        return jwt && looksLikeJwt(token) ? jwt.verify(token, now()) : verifyApiKey(token, auth, now());
      }
      if (/^Basic /i.test(authorization)) {
        const credentials = parseBasic(authorization);
        if (!credentials) throw refuse('basic: malformed');
        if (!basic) throw refuse('basic: no client has a password');
        return basic.verify(credentials.username, credentials.password, now());
      }
      throw refuse('unsupported Authorization scheme');
    }
    if (apiKey !== null) return verifyApiKey(apiKey.trim(), auth, now());
    const cookieToken = jwt && auth.jwtCookie ? cookieValue(headers.get('cookie'), auth.jwtCookie) : undefined;
    if (cookieToken !== undefined) {
      // A browser attaches the cookie to requests other sites make it send: never let those write.
      if (crossSiteWrite(method, headers)) throw refuse('jwt-cookie: a write from another site (CSRF)');
      return jwt!.verify(cookieToken, now());
    }
    if (auth.anonymous) return auth.anonymous;
    throw refuse('no credentials');
  };
  return {
    identify,
    async authenticate(headers, method) {
      return identify(headers, method);
    },
  };
}

/**
 * The stage: the identity, or 401. With `auth.failedSignInLimit`, an address that has used up its
 * failed sign-ins gets 429 before any credential is checked (limits/sign-in-failures.ts).
 */
export function authentication(auth: CompiledAuth, signInFailures: SignInFailureGuard, now: () => number, issuerFetch?: typeof fetch): Stage {
  const authenticator = createAuthenticator(auth, now, issuerFetch);
  const limit = auth.failedSignInLimit;
  if (!limit) {
    // Synchronous when the credential is (an API key, anonymous): no promise of its own then.
    return function authentication(scope, next) {
      const found = authenticator.identify(scope.request.headers, scope.method);
      if (found instanceof Promise) {
        return found.then((identity) => {
          scope.identity = identity;
          return next(scope);
        });
      }
      scope.identity = found;
      return next(scope);
    };
  }
  return async function authenticationWithFailureLimit(scope, next) {
    const nowMs = scope.receivedAt.getTime();
    const blockedMs = signInFailures.blockedFor(scope.clientIp, nowMs);
    if (blockedMs !== undefined) throw new RateLimited(blockedMs, `too many failed sign-ins from ${scope.clientIp}`);
    try {
      scope.identity = await authenticator.authenticate(scope.request.headers, scope.method);
    } catch (error) {
      if (error instanceof Unauthenticated) await signInFailures.failed(scope.clientIp, limit, nowMs);
      throw error;
    }
    return next(scope);
  };
}
