// A real valkey-server (or redis-server, Debian 12 has no valkey package) on a free loopback port,
// with no persistence, optionally with a password, TLS (a throw-away CA and certificate made with
// openssl) or as a one-node cluster owning every slot (what a cluster-mode client meets on
// ElastiCache Serverless). restart() brings it back on the same port, empty, as after a failover.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startProcess, tempDir, type Started } from './processes.ts';

export const VALKEY_SERVER = ['/usr/bin/valkey-server', '/usr/bin/redis-server'].find((path) => existsSync(path)) ?? 'redis-server';
const CLI = VALKEY_SERVER.replace(/-server$/, '-cli');

export interface ValkeyOptions {
  /** A port chosen beforehand (e.g. one a gateway already tries); default: a free one. */
  port?: number;
  password?: string;
  tls?: boolean;
  cluster?: boolean;
}

export interface Valkey {
  port: number;
  /** redis://127.0.0.1:PORT or rediss://127.0.0.1:PORT */
  url: string;
  /** The CA that signed the server's certificate (tls only). */
  caFile?: string;
  /** Runs a command with the server's own CLI; returns its output. */
  cli(...args: string[]): string;
  stop(): Promise<void>;
  restart(): Promise<void>;
  process(): Started;
}

export async function startValkey(options: ValkeyOptions = {}): Promise<Valkey> {
  const dir = tempDir('valkey');
  const port = options.port ?? (await freePort());
  const caFile = options.tls ? makeCertificates(dir) : undefined;
  const args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  if (options.tls) {
    args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', join(dir, 'server.crt'), '--tls-key-file', join(dir, 'server.key'),
      '--tls-ca-cert-file', caFile!, '--tls-auth-clients', 'no');
  } else {
    args.push('--port', String(port));
  }
  if (options.password) args.push('--requirepass', options.password);
  // A lone node announces an empty address in CLUSTER SLOTS ("the one you asked") unless told its own.
  if (options.cluster) args.push('--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-announce-ip', '127.0.0.1');
  // CLUSTER SLOTS names the TLS port only when the cluster itself speaks TLS.
  if (options.cluster && options.tls) args.push('--tls-cluster', 'yes');
  const cliArgs = [...(options.tls ? ['--tls', '--cacert', caFile!] : []), '-h', '127.0.0.1', '-p', String(port), ...(options.password ? ['--no-auth-warning', '-a', options.password] : [])];
  const cli = (...command: string[]) => {
    const run = spawnSync(CLI, [...cliArgs, ...command], { encoding: 'utf8', timeout: 10_000 });
    if (run.status !== 0) throw new Error(`${CLI} ${command.join(' ')}: ${run.stderr}`);
    return run.stdout.trim();
  };
  const start = async () => {
    const started = await startProcess(VALKEY_SERVER, args, {
      name: VALKEY_SERVER,
      ready: (output) => (/Ready to accept connections/.test(output) ? port : undefined),
    });
    if (options.cluster) {
      // A one-node cluster serving every slot; a restarted node keeps them (nodes.conf).
      if (!/cluster_state:ok/.test(cli('CLUSTER', 'INFO'))) cli('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
      const deadline = Date.now() + 15_000;
      while (!/cluster_state:ok/.test(cli('CLUSTER', 'INFO'))) {
        if (Date.now() > deadline) throw new Error('the one-node cluster did not become ok');
        await Bun.sleep(50);
      }
    }
    return started;
  };
  let current = await start();
  return {
    port,
    url: `${options.tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    ...(caFile ? { caFile } : {}),
    cli,
    stop: () => current.stop(),
    async restart() {
      await current.stop();
      current = await start();
    },
    process: () => current,
  };
}

/** A CA and a server certificate for 127.0.0.1 signed by it (the CA file's path is returned). */
function makeCertificates(dir: string): string {
  const openssl = (...args: string[]) => {
    const run = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${run.stderr}`);
  };
  writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=test CA', '-keyout', 'ca.key', '-out', 'ca.crt');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'san.cnf', '-out', 'server.crt');
  return join(dir, 'ca.crt');
}
