// Browser credentials in a cookie (auth.jwtCookie): reading one cookie out of the Cookie header, and
// telling whether a write was sent from another site. Browsers attach cookies to requests that any
// page makes them send (a form posting to the gateway), so a cookie proves who the browser belongs
// to, not that its owner meant the request: writes are accepted only from the gateway's own pages.

/** The named cookie's value, or undefined when the header does not carry it. */
export function cookieValue(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const separator = part.indexOf('=');
    if (separator < 0 || part.slice(0, separator).trim() !== name) continue;
    const value = part.slice(separator + 1).trim().replace(/^"(.*)"$/, '$1');
    return value === '' ? undefined : value;
  }
  return undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * True for a state-changing request a browser sent on behalf of another site: its Fetch Metadata
 * (`Sec-Fetch-Site`, sent by every current browser) says cross-site or same-site-but-other-origin, or,
 * for browsers without it, its `Origin` names a host other than the one the request was sent to.
 */
export function crossSiteWrite(method: string, headers: Headers): boolean {
  if (SAFE_METHODS.has(method.toUpperCase())) return false;
  const site = headers.get('sec-fetch-site');
  if (site !== null) return site !== 'same-origin' && site !== 'none';
  const origin = headers.get('origin');
  if (origin === null) return false;
  const host = headers.get('x-forwarded-host') ?? headers.get('host');
  try {
    return new URL(origin).host !== host;
  } catch {
    return true; // `Origin: null` (sandboxed frames, file:) is never the gateway's own page
  }
}
