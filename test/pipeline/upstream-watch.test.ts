// One timer watches every request waiting on the upstream (pipeline/upstream-watch.ts): what it
// ends, what it leaves alone, and that it stops when nothing is left to watch.
import { describe, expect, test } from 'bun:test';
import { UpstreamWatch } from '../../src/pipeline/upstream-watch.ts';
import { waitFor } from '../support/processes.ts';

const request = (signal?: AbortSignal) => new Request('http://gw/api/2.0/mlflow/experiments/get', signal ? { signal } : {});

describe('the shared upstream watch', () => {
  test('an exchange waiting longer than the timeout is aborted as a timeout and leaves the watch', async () => {
    const watch = new UpstreamWatch(100);
    const exchange = watch.open(request());
    exchange.waiting();
    await waitFor(() => exchange.controller.signal.aborted);
    expect(exchange.ended).toBe('timeout');
    expect(watch.size()).toBe(0);
  });

  test('an exchange not waiting (a streamed upload still under way) is not timed out, and a closed one is gone', async () => {
    const watch = new UpstreamWatch(100);
    const uploading = watch.open(request());
    const clock = watch.open(request());
    clock.waiting();
    await waitFor(() => clock.controller.signal.aborted); // at least one timeout's worth of ticks
    expect(uploading.controller.signal.aborted).toBe(false);
    uploading.close();
    expect(watch.size()).toBe(0);
  });

  test('a client that leaves while the headers are awaited ends the exchange; once answered, its leaving is left to the body stream', async () => {
    const watch = new UpstreamWatch(60_000);
    const left = new AbortController();
    const waiting = watch.open(request(left.signal));
    waiting.waiting();
    const answeredClient = new AbortController();
    const answered = watch.open(request(answeredClient.signal));
    answered.answered = true;
    left.abort();
    answeredClient.abort();
    await waitFor(() => waiting.controller.signal.aborted);
    expect(waiting.ended).toBe('client');
    expect(answered.controller.signal.aborted).toBe(false);
    answered.close();
    expect(watch.size()).toBe(0);
  });
});
