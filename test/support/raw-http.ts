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
