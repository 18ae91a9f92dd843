// app.ts sends the gateway's own endpoints to Elysia and everything else to the pipeline, deciding
// on the raw URL without parsing it: which paths are the endpoints' and which are not.
import { describe, expect, test } from 'bun:test';
import { isOwnEndpoint } from '../src/app.ts';

const OWN = ['/-/live', '/-/ready'];

describe('isOwnEndpoint', () => {
  test.each([
    ['http://gw/-/live', true],
    ['http://gw/-/live/', true],
    ['http://gw:8080/-/ready?verbose=1', true],
    ['http://gw/-/ready/?x', true],
    ['http://gw/-/live#top', true],
    ['http://gw/-/livex', false],
    ['http://gw/-/live-and-well', false],
    ['http://gw/-/live//', false],
    ['http://gw/-/live/more', false],
    ['http://gw/x/-/live', false],
    ['http://gw/api/2.0/mlflow/experiments/get?x=/-/live', false],
    ['http://gw/', false],
    ['http://gw', false],
  ])('%s → %p', (url, own) => {
    expect(isOwnEndpoint(url, OWN)).toBe(own);
  });
});
