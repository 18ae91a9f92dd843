// The gateway's own errors as a short HTML page, for a person at a browser. A browser that opens
// the UI without credentials should see the sign-in prompt (401 + WWW-Authenticate: Basic) and,
// if they cancel it, a readable sentence, not a JSON object. API clients (the MLflow SDK, curl, the
// UI's own fetch calls, none of which ask for text/html) keep MLflow's JSON shape, which they parse.
import type { GatewayError } from '../errors.ts';

/** Whether the caller is a browser navigating to a page: its Accept names text/html. */
export function wantsHtml(headers: Headers): boolean {
  const accept = headers.get('accept');
  return accept !== null && /(^|,)\s*text\/html\s*(;|,|$)/i.test(accept);
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** A self-contained page (no scripts, no external resources); every text is escaped. */
export function htmlErrorPage(status: number, title: string, message: string, requestId: string, headers: Record<string, string> = {}): Response {
  const body = new TextEncoder().encode(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(`${status} ${title}`)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1f2933}code{background:#f0f2f4;padding:.1rem .3rem}</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(message)}</p>
<p>Request id: <code>${escapeHtml(requestId)}</code></p>
</body>
</html>
`);
  return new Response(body, {
    status,
    headers: {
      ...headers,
      'content-type': 'text/html; charset=utf-8',
      'content-length': String(body.byteLength),
      'cache-control': 'no-store',
      // The page is the gateway's own; nothing in it needs to run or be framed.
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
      'x-content-type-options': 'nosniff',
      'x-request-id': requestId,
    },
  });
}

const TITLES: Readonly<Record<number, string>> = {
  400: 'Bad request',
  401: 'Sign-in required',
  403: 'Not allowed',
  404: 'Not found',
  413: 'Request too large',
  429: 'Too many requests',
  501: 'Not available',
  502: 'MLflow unreachable',
  503: 'Temporarily unavailable',
  504: 'MLflow did not answer',
};

/** A GatewayError as an HTML page, keeping its status and headers (WWW-Authenticate, Retry-After). */
export function gatewayErrorPage(error: GatewayError, requestId: string): Response {
  const message = error.status !== 401
    ? error.message
    : /\bBasic\b/.test(error.headers['www-authenticate'] ?? '')
      ? 'This MLflow gateway needs you to sign in. Reload the page to be asked for your user name and password again.'
      : 'This MLflow gateway needs credentials your browser cannot send here (an API key or token). Ask its operator how to sign in.';
  return htmlErrorPage(error.status, TITLES[error.status] ?? 'Error', message, requestId, error.headers);
}
