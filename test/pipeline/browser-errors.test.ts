import { describe, expect, test } from 'bun:test';
import { gatewayErrorPage, htmlErrorPage, wantsHtml } from '../../src/pipeline/browser-errors.ts';
import { PermissionDenied, Unauthenticated } from '../../src/errors.ts';

describe('who gets an HTML page', () => {
  const cases: Array<[string, string | undefined, boolean]> = [
    ['a browser navigating', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', true],
    ['a browser, parameters on text/html', 'text/html;q=0.9', true],
    ['the MLflow UI\'s fetch', 'application/json, text/plain, */*', false],
    ['curl', '*/*', false],
    ['the MLflow SDK (no Accept)', undefined, false],
    ['a type that only starts like text/html', 'text/htmlx', false],
  ];
  for (const [who, accept, expected] of cases) {
    test(`${who}: ${expected ? 'HTML' : 'JSON'}`, () => expect(wantsHtml(new Headers(accept ? { accept } : {}))).toBe(expected));
  }
});

describe('the page', () => {
  test('escapes everything it shows', async () => {
    const page = await htmlErrorPage(403, '<t>', 'a "b" & <script>', 'id<1>').text();
    expect(page).toContain('&lt;t&gt;');
    expect(page).toContain('a &quot;b&quot; &amp; &lt;script&gt;');
    expect(page).toContain('id&lt;1&gt;');
    expect(page).not.toContain('<script>');
  });
  test('a 401 keeps the challenge; with Basic offered it tells the person to reload to sign in', async () => {
    const response = gatewayErrorPage(new Unauthenticated('Basic realm="MLflow", charset="UTF-8", Bearer realm="MLflow"'), 'r1');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toStartWith('Basic');
    expect(await response.text()).toContain('Reload the page');
  });
  test('a 401 without Basic says the browser cannot sign in here', async () => {
    expect(await gatewayErrorPage(new Unauthenticated('Bearer realm="MLflow"'), 'r1').text()).toContain('cannot send');
  });
  test('other errors show their (client-safe) message and are not cached', async () => {
    const response = gatewayErrorPage(new PermissionDenied('Client "x" may not call UpdateExperiment.', 'internal detail'), 'r2');
    const text = await response.text();
    expect(text).toContain('Client &quot;x&quot; may not call UpdateExperiment.');
    expect(text).not.toContain('internal detail');
    expect(response.headers.get('cache-control')).toBe('no-store');
  });
});
