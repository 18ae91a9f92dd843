// TEST STAND-IN: a recording, fault-injecting HTTP/1.1 upstream on a loopback port, for the fault
// suite (test/faults/). It is written on a raw socket (node:net), not Bun.serve, because the faults
// it injects are exactly what an HTTP server library would not let a handler do: answer before the
// request body has arrived, reset the connection after N bytes of a response whose Content-Length
// promised more, send a header block larger than any sane server would, read an upload slowly.
//
// It records what actually arrived, byte for byte: the method, the request target as sent, the
// headers in order (repeats kept), the body bytes (de-chunked, trailers apart), and whether the
// body completed or the connection ended first. With `sigv4` set it also checks each completed
// request the way SageMaker's front end would (test/standins/sigv4-verifier.ts, the aws4 package),
// and refuses a bad signature with 403 as SageMaker does.
//
// API stability: the fault suite of issue 13 and later work build on this file; add options and
// fields, do not rename them.
import { createServer, type Server, type Socket } from 'node:net';
import { verifySigV4, type Expectation, type Verdict } from '../standins/sigv4-verifier.ts';

/** How the upstream answers one path. Everything optional; the default is 200 with a small JSON body. */
export interface Behaviour {
  status?: number;
  headers?: Record<string, string>;
  /** Response fields in order, repeats kept (e.g. several Set-Cookie), sent after `headers`. */
  headerList?: Array<[string, string]>;
  /** The response body; default `{"ok":true}`. */
  body?: string | Uint8Array;
  /** `headers`: answer as soon as the request head has arrived, reading the body on afterwards. Default `body`. */
  answerAt?: 'headers' | 'body';
  /** Wait this long (after `answerAt`) before answering. */
  delayMs?: number;
  /** Send the head (with the full Content-Length) and this many body bytes, then reset the connection. */
  resetAfterBytes?: number;
  /**
   * Send the head (with the full Content-Length) and this many body bytes, then close the
   * connection normally (FIN). Unlike a reset, the bytes sent are sure to be delivered (a RST makes
   * the receiver's kernel drop what its application has not read yet).
   */
  endAfterBytes?: number;
  /** Reset the connection as soon as the request head arrives, answering nothing. */
  resetOnHead?: boolean;
  /** Add filler headers (`x-filler-N`) until the response header block is at least this many bytes. */
  headerBlockBytes?: number;
  /** Read the request body slowly: pause the socket this long after every chunk received. */
  readPauseMs?: number;
  /** Send the response body chunked, in pieces of this size, instead of with Content-Length. */
  chunkedPieceBytes?: number;
  /** Write the response body in pieces of this size (default: all at once). */
  bodyPieceBytes?: number;
  /** Pause this long between response body pieces (a slow download). */
  bodyPauseMs?: number;
}

export interface RecordedRequest {
  method: string;
  /** The request target exactly as sent (path and query, no normalisation). */
  target: string;
  /** The path part of the target. */
  path: string;
  /** Headers as received, in order, names lower-cased, repeats kept. */
  headerList: Array<[string, string]>;
  /** Headers as a map; repeated names joined with ", " as RFC 9110 §5.3 allows. */
  headers: Record<string, string>;
  /** Body bytes received so far (de-chunked). */
  body: Uint8Array;
  /** The body arrived whole, as framed by Content-Length or the last chunk. */
  completed: boolean;
  /** The connection ended (closed, reset) before the body completed. */
  reset: boolean;
  /** Trailer fields after a chunked body, if any. */
  trailers: Array<[string, string]>;
  /** With `sigv4`: the verifier's verdict on the completed request. */
  sigv4?: Verdict;
  /** Resolves when the body completed or the connection ended. */
  settled: Promise<void>;
}

export interface FaultUpstreamOptions {
  /** Verify SigV4 as SageMaker does; a bad signature is answered 403 and recorded. */
  sigv4?: Expectation;
  /** Largest request head accepted (bytes); beyond it the connection is closed. Default 1 MiB. */
  maxHeadBytes?: number;
}

export interface FaultUpstream {
  port: number;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Every request received, in arrival order. */
  requests: RecordedRequest[];
  /** Sets the behaviour for a path (exact match on the path without query); `*` is the default. */
  on(path: string, behaviour: Behaviour): void;
  /** Forgets recorded requests and behaviours. */
  reset(): void;
  /** Waits until `count` requests have arrived and each has settled. */
  settled(count?: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

export async function startFaultUpstream(options: FaultUpstreamOptions = {}): Promise<FaultUpstream> {
  const requests: RecordedRequest[] = [];
  let behaviours = new Map<string, Behaviour>();
  const sockets = new Set<Socket>();
  let accepted = 0;
  const maxHead = options.maxHeadBytes ?? 1024 * 1024;

  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    serveConnection(socket, {
      behaviourFor: (path) => behaviours.get(path) ?? behaviours.get('*') ?? {},
      record: (request) => requests.push(request),
      maxHead,
      ...(options.sigv4 ? { sigv4: options.sigv4 } : {}),
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as { port: number }).port;

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    on(path, behaviour) {
      behaviours.set(path, behaviour);
    },
    reset() {
      requests.length = 0;
      behaviours = new Map();
    },
    async settled(count = 1, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (requests.length < count) {
        if (Date.now() > deadline) throw new Error(`fault upstream: ${requests.length} of ${count} requests arrived in time`);
        await Bun.sleep(10);
      }
      await Promise.race([
        Promise.all(requests.slice(0, count).map((r) => r.settled)),
        Bun.sleep(Math.max(0, deadline - Date.now())).then(() => {
          throw new Error('fault upstream: a request did not settle in time');
        }),
      ]);
      return requests.slice(0, count);
    },
    connections: () => accepted,
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((done) => server.close(() => done()));
    },
  };
}

interface ConnectionContext {
  behaviourFor(path: string): Behaviour;
  record(request: RecordedRequest): void;
  maxHead: number;
  sigv4?: Expectation;
}

/** One connection: requests one after another (keep-alive), each parsed, recorded and answered. */
function serveConnection(socket: Socket, context: ConnectionContext): void {
  let buffer: Buffer = Buffer.alloc(0);
  let current: BodyReader | undefined;
  let ended = false;

  const onEnd = () => {
    if (ended) return;
    ended = true;
    current?.abandon();
  };
  socket.on('end', onEnd);
  socket.on('close', onEnd);

  socket.on('data', (chunk: Buffer) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
    pump();
  });

  function pump(): void {
    for (;;) {
      if (current) {
        buffer = current.feed(buffer);
        if (!current.done) return;
        current = undefined;
        continue;
      }
      const headEnd = buffer.indexOf(HEAD_END);
      if (headEnd < 0) {
        if (buffer.length > context.maxHead) socket.destroy();
        return;
      }
      const head = buffer.subarray(0, headEnd).toString('latin1');
      buffer = buffer.subarray(headEnd + 4);
      current = startRequest(head);
      if (!current) return;
    }
  }

  function startRequest(head: string): BodyReader | undefined {
    const [requestLine = '', ...lines] = head.split('\r\n');
    const [method = '', target = ''] = requestLine.split(' ');
    const headerList: Array<[string, string]> = [];
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) headerList.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of headerList) headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    const path = target.split('?')[0] ?? target;
    let settle!: () => void;
    const recorded: RecordedRequest = {
      method,
      target,
      path,
      headerList,
      headers,
      body: new Uint8Array(0),
      completed: false,
      reset: false,
      trailers: [],
      settled: new Promise<void>((done) => (settle = done)),
    };
    context.record(recorded);
    const behaviour = context.behaviourFor(path);
    if (behaviour.resetOnHead) {
      recorded.reset = true;
      settle();
      socket.resetAndDestroy();
      return undefined;
    }
    const pieces: Buffer[] = [];
    let answered = false;
    const answerOnce = () => {
      if (answered || socket.destroyed) return;
      answered = true;
      void answer(socket, behaviour, recorded);
    };
    const reader = new BodyReader(headers, {
      chunk(bytes) {
        pieces.push(bytes);
        recorded.body = Buffer.concat(pieces);
        if (behaviour.readPauseMs) {
          socket.pause();
          setTimeout(() => socket.resume(), behaviour.readPauseMs);
        }
      },
      trailer(name, value) {
        recorded.trailers.push([name, value]);
      },
      complete() {
        recorded.completed = true;
        if (context.sigv4) recorded.sigv4 = verify(recorded, context.sigv4);
        settle();
        if (behaviour.answerAt !== 'headers') answerOnce();
      },
      abandoned() {
        recorded.reset = true;
        settle();
      },
    });
    if (behaviour.answerAt === 'headers') answerOnce();
    return reader;
  }
}

async function answer(socket: Socket, behaviour: Behaviour, recorded: RecordedRequest): Promise<void> {
  if (behaviour.delayMs) await Bun.sleep(behaviour.delayMs);
  if (socket.destroyed) return;
  let status = behaviour.status ?? 200;
  let body = typeof behaviour.body === 'string' ? Buffer.from(behaviour.body) : behaviour.body ? Buffer.from(behaviour.body) : Buffer.from('{"ok":true}');
  const headers: Array<[string, string]> = [...Object.entries(behaviour.headers ?? {}), ...(behaviour.headerList ?? [])];
  if (!headers.some(([name]) => name.toLowerCase() === 'content-type')) headers.push(['content-type', 'application/json']);
  if (recorded.sigv4 && !recorded.sigv4.ok) {
    status = 403;
    body = Buffer.from(JSON.stringify({ message: `stand-in: ${recorded.sigv4.reason}` }));
  }
  if (behaviour.chunkedPieceBytes) headers.push(['transfer-encoding', 'chunked']);
  else headers.push(['content-length', String(body.byteLength)]);
  let head = `HTTP/1.1 ${status} ${status === 200 ? 'OK' : 'Status'}\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}`;
  if (behaviour.headerBlockBytes) {
    const filler = 'f'.repeat(1000);
    for (let i = 0; head.length < behaviour.headerBlockBytes; i++) head += `x-filler-${i}: ${filler}\r\n`;
  }
  head += '\r\n';
  socket.write(head);
  // A HEAD answer is the GET answer's head, Content-Length included, without the content (RFC 9110 §9.3.2).
  if (recorded.method === 'HEAD') return;
  // The body, in pieces (chunk-framed when chunked), paced when told, cut off when told.
  const chunked = behaviour.chunkedPieceBytes !== undefined;
  const limit = Math.min(body.byteLength, behaviour.resetAfterBytes ?? behaviour.endAfterBytes ?? body.byteLength);
  const pieceBytes = behaviour.chunkedPieceBytes ?? behaviour.bodyPieceBytes ?? Math.max(1, limit);
  for (let offset = 0; offset < limit && !socket.destroyed; offset += pieceBytes) {
    const piece = body.subarray(offset, Math.min(offset + pieceBytes, limit));
    socket.write(chunked ? Buffer.concat([Buffer.from(`${piece.byteLength.toString(16)}\r\n`), piece, CRLF]) : piece);
    if (behaviour.bodyPauseMs && offset + pieceBytes < limit) await Bun.sleep(behaviour.bodyPauseMs);
  }
  if (socket.destroyed) return;
  if (behaviour.resetAfterBytes !== undefined) socket.write('', () => socket.resetAndDestroy());
  else if (behaviour.endAfterBytes !== undefined) socket.end();
  else if (chunked) socket.write('0\r\n\r\n');
}

function verify(recorded: RecordedRequest, expectation: Expectation): Verdict {
  const host = recorded.headers.host ?? '127.0.0.1';
  const rawUrl = `http://${host}${recorded.target}`;
  const request = new Request(rawUrl, { method: recorded.method, headers: recorded.headerList });
  return verifySigV4(request, rawUrl, recorded.body, expectation);
}

interface BodyEvents {
  chunk(bytes: Buffer): void;
  trailer(name: string, value: string): void;
  complete(): void;
  abandoned(): void;
}

/** Reads one request body framed by Content-Length or chunked coding (RFC 9112 §6.3, §7.1). */
class BodyReader {
  done = false;
  private remaining: number;
  private readonly chunked: boolean;
  /** Chunked state: size line, data (remaining bytes), CRLF after data, trailer section. */
  private state: 'size' | 'data' | 'data-end' | 'trailers' = 'size';

  constructor(headers: Record<string, string>, private readonly events: BodyEvents) {
    this.chunked = /chunked/i.test(headers['transfer-encoding'] ?? '');
    this.remaining = this.chunked ? 0 : Number(headers['content-length'] ?? 0) || 0;
    if (!this.chunked && this.remaining === 0) this.finish();
  }

  /** Consumes what it can of `buffer` and returns the rest (the next request's bytes). */
  feed(buffer: Buffer): Buffer {
    while (!this.done && buffer.length > 0) {
      if (!this.chunked || this.state === 'data') {
        const take = Math.min(this.remaining, buffer.length);
        if (take > 0) this.events.chunk(buffer.subarray(0, take));
        this.remaining -= take;
        buffer = buffer.subarray(take);
        if (this.remaining === 0) {
          if (!this.chunked) this.finish();
          else this.state = 'data-end';
        }
        continue;
      }
      const lineEnd = buffer.indexOf(CRLF);
      if (lineEnd < 0) return buffer;
      const line = buffer.subarray(0, lineEnd).toString('latin1');
      buffer = buffer.subarray(lineEnd + 2);
      if (this.state === 'data-end') {
        this.state = 'size';
      } else if (this.state === 'size') {
        const size = parseInt(line.split(';')[0]!.trim(), 16);
        if (size === 0) this.state = 'trailers';
        else {
          this.remaining = size;
          this.state = 'data';
        }
      } else if (line === '') {
        this.finish();
      } else {
        const colon = line.indexOf(':');
        this.events.trailer(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
    }
    return buffer;
  }

  abandon(): void {
    if (this.done) return;
    this.done = true;
    this.events.abandoned();
  }

  private finish(): void {
    this.done = true;
    this.events.complete();
  }
}
