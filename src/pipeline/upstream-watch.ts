// One timer for every request waiting on the upstream, instead of a setTimeout, a clearTimeout and
// an abort listener on the client's signal per request. Each request forward sends is an
// exchange: an AbortController (the only way to end one fetch on both runtimes) and the time its
// current wait began, in an intrusive list; while the list is not empty, one timer runs every
// `tickMs` and aborts the exchanges whose wait has lasted `timeoutMs` (backend.timeoutSeconds),
// or whose client has left before the answer was under way. A wait is the one for the response
// headers, then each one for the next chunk of the body: an idle limit, as the read timeout of
// Python's requests (and nginx's proxy_read_timeout, "between two successive read operations"), so
// an answer that keeps coming is never cut. An exchange answered within one tick (nearly all of
// them) costs an object, a controller and two list operations: no timer, no closure, no listener,
// and the client's signal is never even created for it.
//
// Measured (bench/in-process.ts, bench/accounting.ts): a setTimeout and clearTimeout per request
// cost about 1 µs of CPU on Bun 1.4.4, the abort listener on the client's signal about as much
// again (addEventListener, and Bun builds request.signal lazily, on first use).
//
// The price is precision: a timeout fires up to one tick late, and a client that leaves while the
// upstream has not answered yet is noticed within one tick instead of at once. The tick is an
// eighth of the timeout, between 50 ms and 1 s: 120 s is enforced within 1 s, 2 s within 250 ms.

/** What ended an exchange early, when the watch did. */
export type ExchangeEnd = 'timeout' | 'client';

export class UpstreamExchange {
  readonly controller = new AbortController();
  /** performance.now() when the current wait for the upstream began; 0 while nothing waits. */
  waitingSince = 0;
  /** Set when the watch aborted the exchange, and why. */
  ended: ExchangeEnd | undefined = undefined;
  /** True once the response headers have arrived: the client leaving is then the body stream's business. */
  answered = false;
  prev: UpstreamExchange | undefined = undefined;
  next: UpstreamExchange | undefined = undefined;
  watched = false;

  constructor(
    readonly watch: UpstreamWatch,
    /** The client's request: its signal is read only if the exchange is still waiting at a tick. */
    readonly request: Request,
  ) {}

  /** The gateway starts waiting for the upstream (the request is sent, or a body read begins). */
  waiting(now = performance.now()): void {
    this.waitingSince = now;
  }

  /** The wait is over (headers or a chunk arrived, or nobody is reading). */
  resting(): void {
    this.waitingSince = 0;
  }

  /** The exchange is finished: it leaves the watch. */
  close(): void {
    this.watch.remove(this);
  }
}

export class UpstreamWatch {
  readonly tickMs: number;
  private head: UpstreamExchange | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly timeoutMs: number) {
    this.tickMs = Math.min(1000, Math.max(50, timeoutMs / 8));
  }

  /** A new exchange for this request, watched from now on (not yet waiting: call waiting()). */
  open(request: Request): UpstreamExchange {
    const exchange = new UpstreamExchange(this, request);
    exchange.watched = true;
    exchange.next = this.head;
    if (this.head) this.head.prev = exchange;
    this.head = exchange;
    this.timer ??= unref(setTimeout(this.tick, this.tickMs));
    return exchange;
  }

  remove(exchange: UpstreamExchange): void {
    if (!exchange.watched) return;
    exchange.watched = false;
    if (exchange.prev) exchange.prev.next = exchange.next;
    else this.head = exchange.next;
    if (exchange.next) exchange.next.prev = exchange.prev;
    exchange.prev = exchange.next = undefined;
  }

  /** How many exchanges are watched (tests). */
  size(): number {
    let n = 0;
    for (let e = this.head; e; e = e.next) n++;
    return n;
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    const now = performance.now();
    for (let exchange = this.head; exchange; ) {
      const next = exchange.next;
      if (exchange.waitingSince !== 0 && now - exchange.waitingSince >= this.timeoutMs) this.end(exchange, 'timeout');
      else if (!exchange.answered && exchange.request.signal.aborted) this.end(exchange, 'client');
      exchange = next;
    }
    if (this.head) this.timer = unref(setTimeout(this.tick, this.tickMs));
  };

  private end(exchange: UpstreamExchange, why: ExchangeEnd): void {
    exchange.ended = why;
    this.remove(exchange);
    exchange.controller.abort();
  }
}

/** The watch's timer never keeps the process alive by itself (the listener does, while it listens). */
function unref(timer: ReturnType<typeof setTimeout>): ReturnType<typeof setTimeout> {
  if (typeof timer === 'object' && timer !== null && 'unref' in timer) (timer as { unref(): void }).unref();
  else (globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno?.unrefTimer(timer as unknown as number);
  return timer;
}
