// The Host check (listen.allowedHosts). A browser sends the Host of the name it resolved; with DNS
// rebinding, a page on an attacker's domain can point that name at the gateway and then call it
// from a visitor's browser, inside the company network. Such requests carry the attacker's Host, so
// answering only the gateway's own names stops them. Browsers send no credentials for the foreign
// name, so what is at stake is anything `anonymous` may do, and the UI's pages.
import { MisdirectedRequest } from '../errors.ts';
import type { Stage } from './chain.ts';

/** A matcher for the configured names: exact `host` or `host:port`, or `*.domain` for any subdomain. */
export function hostMatcher(allowed: ReadonlyArray<string>): (host: string | null) => boolean {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const entry of allowed) {
    const name = entry.toLowerCase();
    if (name.startsWith('*.')) suffixes.push(name.slice(1));
    else exact.add(name);
  }
  return (host) => {
    if (!host) return false;
    const full = host.toLowerCase();
    const bare = full.replace(/:\d+$/, '');
    // An entry without a port allows any port; one with a port allows only that one.
    return exact.has(full) || exact.has(bare) || suffixes.some((suffix) => bare.endsWith(suffix) && bare.length > suffix.length);
  };
}

/** The stage: first in the list, before sign-in, so a rebinding page learns nothing else. */
export function hostCheck(allowed: ReadonlyArray<string>): Stage {
  const isAllowed = hostMatcher(allowed);
  return function hostCheck(scope, next) {
    const host = scope.request.headers.get('host');
    if (!isAllowed(host)) throw new MisdirectedRequest(host ?? '(none)');
    return next(scope);
  };
}
