import { describe, expect, test } from 'bun:test';
import { forwardableRequestHeaders, isSameOrigin } from '../../src/pipeline/headers.ts';

describe('an Origin is the gateway\'s own when it names the Host the browser asked for', () => {
  const cases: Array<[string, string | null, string | null, boolean]> = [
    ['https behind an ALB', 'https://mlflow.example.com', 'mlflow.example.com', true],
    ['a port', 'http://127.0.0.1:8080', '127.0.0.1:8080', true],
    ['a default port written out', 'https://mlflow.example.com', 'mlflow.example.com:443', true],
    ['upper case host', 'https://MLflow.example.com', 'mlflow.example.com', true],
    ['another site', 'https://evil.example.net', 'mlflow.example.com', false],
    ['another port', 'http://127.0.0.1:9999', '127.0.0.1:8080', false],
    ['Origin: null', 'null', 'mlflow.example.com', false],
    ['no Origin', null, 'mlflow.example.com', false],
    ['no Host', 'https://mlflow.example.com', null, false],
    ['a non-web scheme', 'file://mlflow.example.com', 'mlflow.example.com', false],
  ];
  for (const [sentence, origin, host, expected] of cases) {
    test(`${sentence}: ${expected ? 'own' : 'not own'}`, () => expect(isSameOrigin(origin, host)).toBe(expected));
  }
  test('only a foreign Origin is forwarded', () => {
    const names = (origin: string) => forwardableRequestHeaders(new Headers({ origin, host: 'gw.example.com', accept: '*/*' })).map(([n]) => n);
    expect(names('https://gw.example.com')).toEqual(['accept']);
    expect(names('https://evil.example.net')).toContain('origin');
  });
});
