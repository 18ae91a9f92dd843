// Starts the HTTP listener on Bun (Bun.serve) or Deno (Deno.serve) with the same app. Elysia's own
// app.listen() is avoided: it sets Bun's idleTimeout to 30 s, which cuts an upstream that is
// silent longer than that mid-request, and reusePort, which hides a port already in use.

export interface Listener {
  port: number;
  /** Stops accepting and resolves when requests in flight have finished; `force` cuts them (Bun). */
  stop(force?: boolean): Promise<void>;
}

export interface ListenOptions {
  hostname: string;
  port: number;
  /** Seconds a connection may stay silent; must exceed the upstream timeout. */
  idleTimeoutSeconds: number;
}

/** A request and the TCP peer address it came from (the only place that sees the socket). */
export type FetchHandler = (request: Request, peerAddress: string | undefined) => Response | Promise<Response>;

// Bun's idleTimeout tops out at 255 s.
const BUN_MAX_IDLE = 255;

/** The idle timeout a listener gets on Bun for the seconds asked (whole seconds, at most 255). */
export function bunIdleTimeoutSeconds(seconds: number): number {
  return Math.min(BUN_MAX_IDLE, Math.ceil(seconds));
}

export function listen(fetch: FetchHandler, options: ListenOptions): Listener {
  const bun = (globalThis as { Bun?: typeof Bun }).Bun;
  if (bun) {
    const server = bun.serve({
      hostname: options.hostname,
      port: options.port,
      reusePort: false,
      idleTimeout: bunIdleTimeoutSeconds(options.idleTimeoutSeconds),
      // The pipeline enforces its own body caps; Bun's default 128 MiB would cut self-hosted artifact uploads.
      maxRequestBodySize: 2 ** 40,
      fetch(request, srv) {
        return fetch(request, srv.requestIP(request)?.address);
      },
    });
    // stop() without `true` lets requests in flight finish instead of cutting them.
    return { port: server.port ?? options.port, stop: async (force) => void (await server.stop(force === true)) };
  }
  const deno = (globalThis as { Deno?: { serve: (...args: unknown[]) => { addr: { port: number }; shutdown(): Promise<void> } } }).Deno;
  if (deno) {
    const server = deno.serve(
      { hostname: options.hostname, port: options.port, onListen: () => {} },
      (request: Request, info: { remoteAddr: { hostname: string } }) => fetch(request, info.remoteAddr.hostname),
    );
    // Deno has no forced stop: a caller that cannot wait exits the process instead.
    return { port: server.addr.port, stop: (force) => (force ? Promise.resolve() : server.shutdown()) };
  }
  throw new Error('sagemaker-mlflow-proxy runs on Bun or Deno');
}
