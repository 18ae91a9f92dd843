// One HTTP/1.1 request with the request target sent byte for byte: fetch() and URL normalise
// `..` and `//` away, which is exactly what path-traversal tests must not let happen.
import { connect } from 'node:net';

export function rawRequest(port: number, method: string, target: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((done, fail) => {
    const socket = connect(port, '127.0.0.1');
    const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
    const lines = [`${method} ${target} HTTP/1.1`, `host: 127.0.0.1:${port}`, 'connection: close', `content-length: ${payload.byteLength}`];
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
    let response = '';
    socket.on('connect', () => {
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      socket.write(payload);
    });
    socket.on('data', (chunk) => (response += chunk.toString('utf8')));
    socket.on('error', fail);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
      done({ status, text: response.slice(response.indexOf('\r\n\r\n') + 4) });
    });
  });
}

// ── Raw connections for the fault suite (test/faults/): a client that writes exactly the bytes it
// is given, when it is told to (a slow upload, a body cut off mid-way, a chunked body with a
// trailer), and reads the answer without an HTTP library's normalisation. API: add, do not rename.

export interface RawResponse {
  status: number;
  /** Response headers in order, names lower-cased. */
  headerList: Array<[string, string]>;
  /** Headers as a map (repeats joined with ", "). */
  headers: Record<string, string>;
  /** The response head's size in bytes, status line included. */
  headBytes: number;
  /** The body as framed (Content-Length, chunked de-chunked, or up to the close). */
  body: Buffer;
  text: string;
  /** The body arrived whole as framed; false when the connection ended first. */
  complete: boolean;
}

export interface RawConnection {
  /** Writes bytes; resolves when the runtime has taken them (not when the peer has read them). */
  write(bytes: string | Uint8Array): Promise<void>;
  /** The first response on the connection; rejects if the connection ends with no response head. */
  response(): Promise<RawResponse>;
  /** Resolves when the connection has closed (either side). */
  closed: Promise<void>;
  /** Whether the connection has closed. */
  isClosed(): boolean;
  /** Closes the socket (FIN). */
  end(): void;
  /** Resets the socket (RST), as a client killed mid-request would. */
  reset(): void;
}

export function openRaw(port: number): Promise<RawConnection> {
  return new Promise((done, fail) => {
    const socket = connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let closed = false;
    let onClosed!: () => void;
    const closedPromise = new Promise<void>((resolve) => (onClosed = resolve));
    const waiters: Array<() => void> = [];
    const wake = () => waiters.splice(0).forEach((w) => w());
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      onClosed();
      wake();
    });
    socket.once('connect', () => {
      done({
        write: (bytes) => new Promise<void>((resolve, reject) => socket.write(bytes, (error) => (error ? reject(error) : resolve()))),
        async response() {
          for (;;) {
            const parsed = parseResponse(received, closed);
            if (parsed) return parsed;
            if (closed) throw new Error(`connection closed without a response head (${received.length} bytes received)`);
            await new Promise<void>((resolve) => waiters.push(resolve));
          }
        },
        closed: closedPromise,
        isClosed: () => closed,
        end: () => socket.end(),
        reset: () => socket.resetAndDestroy(),
      });
    });
    socket.once('error', fail);
  });
}

/** A whole response parsed from `bytes`, or undefined while more is needed. */
function parseResponse(bytes: Buffer, closed: boolean): RawResponse | undefined {
  const headEnd = bytes.indexOf('\r\n\r\n');
  if (headEnd < 0) return undefined;
  const [statusLine = '', ...lines] = bytes.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  // 1xx answers (100 Continue) precede the real one.
  if (status >= 100 && status < 200) {
    const rest = parseResponse(bytes.subarray(headEnd + 4), closed);
    return rest;
  }
  const headerList: Array<[string, string]> = lines.map((line) => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
  });
  const headers: Record<string, string> = {};
  for (const [name, value] of headerList) headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  const rest = bytes.subarray(headEnd + 4);
  const result = (body: Buffer, complete: boolean): RawResponse => ({ status, headerList, headers, headBytes: headEnd + 4, body, text: body.toString('utf8'), complete });
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const dechunked = dechunk(rest);
    if (dechunked.complete) return result(dechunked.body, true);
    return closed ? result(dechunked.body, false) : undefined;
  }
  const length = headers['content-length'];
  if (length !== undefined) {
    const want = Number(length);
    if (rest.length >= want) return result(rest.subarray(0, want), true);
    return closed ? result(rest, false) : undefined;
  }
  return closed ? result(rest, true) : undefined;
}

/** The de-chunked body so far, and whether the last chunk (and the trailer section) has arrived. */
function dechunk(bytes: Buffer): { body: Buffer; complete: boolean } {
  const pieces: Buffer[] = [];
  const partial = (complete: boolean, last?: Buffer) => ({ body: Buffer.concat(last ? [...pieces, last] : pieces), complete });
  let offset = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', offset);
    if (lineEnd < 0) return partial(false);
    const size = parseInt(bytes.subarray(offset, lineEnd).toString('latin1').split(';')[0]!, 16);
    if (Number.isNaN(size)) return partial(false);
    if (size === 0) return partial(bytes.indexOf('\r\n\r\n', lineEnd) >= 0);
    if (bytes.length < lineEnd + 2 + size + 2) return partial(false, bytes.subarray(lineEnd + 2, Math.min(bytes.length, lineEnd + 2 + size)));
    pieces.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
}

/** A request head as bytes: request line, Host, the given headers, blank line. */
export function requestHead(port: number, method: string, target: string, headers: Record<string, string>): string {
  const lines = [`${method} ${target} HTTP/1.1`, `host: 127.0.0.1:${port}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

export interface SlowUploadOptions {
  method?: string;
  target: string;
  headers: Record<string, string>;
  /** Body size announced in Content-Length. */
  totalBytes: number;
  /** Bytes per write. */
  pieceBytes: number;
  /** Pause between writes. */
  intervalMs: number;
  /** Stop writing after this many body bytes and reset the connection (a client that leaves). */
  resetAfterBytes?: number;
  /** Byte value the body is filled with. */
  fill?: number;
}

/**
 * An upload written piece by piece with pauses (a slow link), with its Content-Length announced up
 * front; optionally cut off by a reset. Resolves with the answer, or `undefined` when the client
 * reset the connection itself (then nobody reads an answer). Bounded: it stops after totalBytes.
 */
export async function slowUpload(port: number, options: SlowUploadOptions): Promise<{ response?: RawResponse; connection: RawConnection; bytesWritten: number }> {
  const connection = await openRaw(port);
  await connection.write(requestHead(port, options.method ?? 'POST', options.target, { ...options.headers, 'content-length': String(options.totalBytes) }));
  const piece = Buffer.alloc(options.pieceBytes, options.fill ?? 0x61);
  let written = 0;
  while (written < options.totalBytes && !connection.isClosed()) {
    if (options.resetAfterBytes !== undefined && written >= options.resetAfterBytes) {
      connection.reset();
      await connection.closed;
      return { connection, bytesWritten: written };
    }
    const size = Math.min(piece.byteLength, options.totalBytes - written);
    try {
      await connection.write(piece.subarray(0, size));
    } catch {
      break; // the gateway answered early and closed: read its answer
    }
    written += size;
    if (written < options.totalBytes) await Bun.sleep(options.intervalMs);
  }
  return { response: await connection.response(), connection, bytesWritten: written };
}

/**
 * One request on its own connection, every byte as given (the target unnormalised, repeated query
 * parameters, a body on a GET), and its whole answer. For attack tables, where the spelling of the
 * request is the point.
 */
export async function exchange(port: number, method: string, target: string, headers: Record<string, string>, body?: string | Uint8Array): Promise<RawResponse> {
  const connection = await openRaw(port);
  const payload = body === undefined ? new Uint8Array(0) : typeof body === 'string' ? new TextEncoder().encode(body) : body;
  await connection.write(requestHead(port, method, target, { connection: 'close', 'content-length': String(payload.byteLength), ...headers }));
  if (payload.byteLength > 0) await connection.write(payload);
  try {
    return await connection.response();
  } finally {
    connection.end();
  }
}
