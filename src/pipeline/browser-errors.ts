// The gateway's refusals as a page for people: a browser that navigates here (the UI entry, a
// bookmarked UI link) gets a short readable HTML page with the same status, headers (the Basic
// challenge that makes it prompt for a password, Retry-After) and request id; API clients and the
// UI's own fetches keep MLflow's JSON error, which is what they parse.
import { GatewayError, Unauthenticated } from '../errors.ts';

/** A navigation: the browser asked for HTML by name (API clients send `*\/*` or JSON). */
export function wantsHtml(headers: Headers): boolean {
  const accept = headers.get('accept');
  return accept !== null && /(^|,)\s*text\/html\b/i.test(accept);
}

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Sign-in required',
  403: 'Not allowed',
  404: 'Not found',
  405: 'Method not allowed',
  413: 'Request too large',
  429: 'Too many requests',
  502: 'Backend error',
  503: 'Temporarily unavailable',
  504: 'Backend timeout',
};

/**
 * What the page tells a person. The JSON message of a 401 is written for API clients (which header
 * to send); a person needs to know how to sign in, which the challenge says: a Basic challenge makes
 * the browser prompt, otherwise sign-in is the organisation's single sign-on (ALB OIDC, SSO cookie).
 */
function messageForPeople(error: GatewayError): string {
  if (!(error instanceof Unauthenticated)) return error.message;
  return /\bBasic\b/.test(error.headers['www-authenticate'] ?? '')
    ? 'Sign in to use MLflow through this gateway: your browser asks for your user name and password (reload the page if it did not). A wrong or expired sign-in lands here too.'
    : 'Sign in to use MLflow through this gateway: open it through your organisation\'s single sign-on, then reload this page.';
}

export function htmlErrorResponse(error: GatewayError, requestId: string): Response {
  const title = TITLES[error.status] ?? 'Error';
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · MLflow gateway</title>
<style>body{font-family:system-ui,sans-serif;max-width:42rem;margin:4rem auto;padding:0 1rem;color:#1f2937}h1{font-size:1.4rem}code{background:#f3f4f6;padding:.1rem .3rem;border-radius:3px}.id{color:#6b7280;font-size:.9rem}</style>
</head><body>
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(messageForPeople(error))}</p>
<p class="id">Error <code>${escapeHtml(error.errorCode)}</code> · request id <code>${escapeHtml(requestId)}</code> (quote it when you ask for help)</p>
</body></html>
`;
  const body = new TextEncoder().encode(html);
  return new Response(body, {
    status: error.status,
    headers: {
      ...error.headers,
      'content-length': String(body.byteLength),
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
      'x-request-id': requestId,
    },
  });
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
