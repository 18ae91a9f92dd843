// A real HAProxy (Debian's) in front of a local fleet of gateways, standing in for the ALB: round
// robin, a health check on /-/ready (a draining gateway fails it and is taken out), X-Forwarded-For
// added, server connections kept alive and reused as an ALB does. Its admin socket says which
// servers it considers up, so tests wait on that instead of on time.
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, startProcess, tempDir, type Started } from './processes.ts';

export const HAPROXY = '/usr/sbin/haproxy';

export interface Balancer extends Started {
  url: string;
  /** Server name → HAProxy's status for it (UP, DOWN, MAINT, "UP 1/2"...). */
  status(): Promise<Record<string, string>>;
  /** Waits until every server is UP (after a start or restart). */
  allUp(timeoutMs?: number): Promise<void>;
}

export interface BalancerOptions {
  /** Health-check interval; with `fall` failed checks a server is taken out. */
  checkIntervalMs: number;
  fall: number;
}

export async function startHaproxy(servers: Array<{ name: string; port: number }>, options: BalancerOptions): Promise<Balancer> {
  const dir = tempDir('haproxy');
  const port = await freePort();
  const socket = join(dir, 'admin.sock');
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    `global
  stats socket ${socket} level admin
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  option forwardfor
  # No second try on another connection or server: an ALB sends a request once (a 502 when the
  # target fails), so a gap in the drain must show here as a failed request, not be retried away.
  retries 0
frontend gateways
  bind 127.0.0.1:${port}
  default_backend fleet
backend fleet
  balance roundrobin
  option httpchk GET /-/ready
  http-check expect status 200
  default-server inter ${options.checkIntervalMs}ms fall ${options.fall} rise 1
${servers.map((s) => `  server ${s.name} 127.0.0.1:${s.port} check`).join('\n')}
`,
  );
  const started = await startProcess(HAPROXY, ['-db', '-f', config], { name: 'haproxy', ready: () => port });
  const status = async (): Promise<Record<string, string>> => {
    const csv = await adminCommand(socket, 'show stat');
    const lines = csv.split('\n').filter((line) => line.startsWith('fleet,'));
    const header = csv.split('\n')[0]!.replace(/^# /, '').split(',');
    const statusColumn = header.indexOf('status');
    const result: Record<string, string> = {};
    for (const line of lines) {
      const fields = line.split(',');
      if (fields[1] !== 'BACKEND') result[fields[1]!] = fields[statusColumn]!;
    }
    return result;
  };
  const balancer: Balancer = {
    ...started,
    url: `http://127.0.0.1:${port}`,
    status,
    async allUp(timeoutMs = 30_000) {
      let statuses: Record<string, string> = {};
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          statuses = await status();
          if (Object.keys(statuses).length === servers.length && Object.values(statuses).every((s) => s === 'UP')) return;
        } catch {
          // The socket appears a moment after the process starts.
        }
        if (Date.now() > deadline) throw new Error(`servers not all up: ${JSON.stringify(statuses)}\n${started.output()}`);
        await Bun.sleep(50);
      }
    },
  };
  return balancer;
}

/** One command on HAProxy's admin socket; resolves with its whole answer. */
function adminCommand(socket: string, command: string): Promise<string> {
  return new Promise((done, fail) => {
    let answer = '';
    const connection = connect(socket, () => connection.write(`${command}\n`));
    connection.on('data', (chunk) => (answer += chunk));
    connection.on('end', () => done(answer));
    connection.on('error', fail);
  });
}
