// A small PKI for the mutual-TLS tests, made with the openssl command line (independent of the
// gateway's own certificate reading): two root CAs, an intermediate, client certificates that are
// good, expired, not yet valid, revoked, from the other CA, and a CRL. `openssl ca` because it
// sets start and end dates in the past or future (OpenSSL 3.0's x509 -req cannot) and keeps the
// index a CRL is made from.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './processes.ts';

export interface Issued {
  pem: string;
  /** Upper-case hex, as `openssl x509 -serial` prints it (and the ALB sends it). */
  serial: string;
  /** RFC 2253, as the ALB's subject header carries it. */
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  certFile: string;
  keyFile: string;
}

export interface TestPki {
  dir: string;
  rootA: Issued;
  rootB: Issued;
  intermediate: Issued;
  /** rootA → client: subject CN=erp-batch, SANs URI:spiffe://example.com/erp and DNS:erp.example.com. */
  client: Issued;
  /** rootA → intermediate → leaf CN=etl-nightly. */
  chained: Issued;
  expired: Issued;
  notYetValid: Issued;
  /** rootA, revoked in crlA. */
  revoked: Issued;
  /** rootB, with the same subject as `client`. */
  foreign: Issued;
  /** rootA, a subject no client lists. */
  stranger: Issued;
  /** rootA → a TLS server certificate for 127.0.0.1 (the ALB stand-in's listener). */
  server: Issued;
  /** rootA's CRL, listing `revoked`, next update in a week (a clock 8 days ahead finds it stale). */
  crlA: string;
}

function openssl(args: string[], cwd: string): string {
  const run = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`openssl ${args.join(' ')} failed:\n${run.stderr}`);
  return run.stdout;
}

const stamp = (date: Date) => date.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
const DAY = 86_400_000;

export function makeTestPki(): TestPki {
  const dir = tempDir('pki');
  const describe = (file: string): Issued => {
    const pem = readFileSync(join(dir, file), 'utf8');
    const out = openssl(['x509', '-in', file, '-noout', '-serial', '-subject', '-issuer', '-startdate', '-enddate', '-nameopt', 'RFC2253'], dir);
    const field = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(out)![1]!.trim();
    return {
      pem: pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----')),
      serial: field('serial'),
      subject: field('subject'),
      issuer: field('issuer'),
      notBefore: new Date(field('notBefore')),
      notAfter: new Date(field('notAfter')),
      certFile: join(dir, file),
      keyFile: join(dir, file.replace(/\.pem$/, '.key')),
    };
  };

  const root = (name: string, cn: string) => {
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '3650',
      '-subj', `/C=US/O=Example/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
    mkdirSync(join(dir, `${name}.db`), { recursive: true });
    writeFileSync(join(dir, `${name}.db`, 'index.txt'), '');
    writeFileSync(join(dir, `${name}.db`, 'crlnumber'), '01\n');
    writeFileSync(join(dir, `${name}.cnf`), [
      '[ ca ]', 'default_ca = this', '[ this ]',
      `dir = ${join(dir, `${name}.db`)}`, 'database = $dir/index.txt', 'new_certs_dir = $dir', 'crlnumber = $dir/crlnumber',
      `certificate = ${join(dir, `${name}.pem`)}`, `private_key = ${join(dir, `${name}.key`)}`,
      'default_md = sha256', 'policy = anything', 'unique_subject = no', 'copy_extensions = none', 'rand_serial = yes', 'default_crl_days = 7',
      '[ anything ]', 'countryName = optional', 'organizationName = optional', 'commonName = supplied',
      '[ leaf ]', 'basicConstraints = CA:FALSE', 'extendedKeyUsage = clientAuth',
      '[ leafWithNames ]', 'basicConstraints = CA:FALSE', 'extendedKeyUsage = clientAuth', 'subjectAltName = URI:spiffe://example.com/erp,DNS:erp.example.com',
      '[ server ]', 'basicConstraints = CA:FALSE', 'extendedKeyUsage = serverAuth', 'subjectAltName = IP:127.0.0.1',
      '[ subca ]', 'basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign',
      '',
    ].join('\n'));
  };
  const issue = (ca: string, name: string, cn: string, options: { from?: Date; to?: Date; extensions?: string } = {}) => {
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/C=US/O=Example/CN=${cn}`], dir);
    const from = options.from ?? new Date(Date.now() - DAY);
    const to = options.to ?? new Date(Date.now() + 30 * DAY);
    openssl(['ca', '-batch', '-config', `${ca}.cnf`, '-in', `${name}.csr`, '-out', `${name}.pem`, '-notext', '-extensions', options.extensions ?? 'leaf',
      '-startdate', stamp(from), '-enddate', stamp(to)], dir);
    return describe(`${name}.pem`);
  };

  root('rootA', 'Example Root CA');
  root('rootB', 'Other Root CA');
  const intermediate = issue('rootA', 'intermediate', 'Example Issuing CA', { extensions: 'subca', to: new Date(Date.now() + 365 * DAY) });
  // The intermediate issues too: its own openssl ca settings, beside the roots'.
  mkdirSync(join(dir, 'intermediate.db'), { recursive: true });
  writeFileSync(join(dir, 'intermediate.db', 'index.txt'), '');
  writeFileSync(join(dir, 'intermediate.cnf'), readFileSync(join(dir, 'rootA.cnf'), 'utf8').replaceAll('rootA', 'intermediate'));

  const pki: TestPki = {
    dir,
    rootA: describe('rootA.pem'),
    rootB: describe('rootB.pem'),
    intermediate,
    client: issue('rootA', 'client', 'erp-batch', { extensions: 'leafWithNames' }),
    chained: issue('intermediate', 'chained', 'etl-nightly'),
    expired: issue('rootA', 'expired', 'erp-batch', { from: new Date(Date.now() - 400 * DAY), to: new Date(Date.now() - 35 * DAY) }),
    notYetValid: issue('rootA', 'notyet', 'erp-batch', { from: new Date(Date.now() + 10 * DAY), to: new Date(Date.now() + 40 * DAY) }),
    revoked: issue('rootA', 'revoked', 'erp-batch'),
    foreign: issue('rootB', 'foreign', 'erp-batch', { extensions: 'leafWithNames' }),
    stranger: issue('rootA', 'stranger', 'stranger'),
    server: issue('rootA', 'server', '127.0.0.1', { extensions: 'server' }),
    crlA: '',
  };
  openssl(['ca', '-config', 'rootA.cnf', '-revoke', 'revoked.pem'], dir);
  openssl(['ca', '-config', 'rootA.cnf', '-gencrl', '-out', 'crlA.pem'], dir);
  pki.crlA = readFileSync(join(dir, 'crlA.pem'), 'utf8');
  return pki;
}

/** What the ALB puts in X-Amzn-Mtls-Clientcert and -Leaf: the PEM URL-encoded, with +=/ left as they are. */
export function albUrlEncode(pem: string): string {
  return encodeURIComponent(pem).replace(/%2B/g, '+').replace(/%3D/g, '=').replace(/%2F/g, '/');
}

/** The five headers of the ALB's verify mode for a certificate, in AWS's spelling. */
export function verifyModeHeaders(cert: Issued): Record<string, string> {
  const iso = (d: Date) => d.toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    'X-Amzn-Mtls-Clientcert-Serial-Number': cert.serial,
    'X-Amzn-Mtls-Clientcert-Issuer': cert.issuer,
    'X-Amzn-Mtls-Clientcert-Subject': cert.subject,
    'X-Amzn-Mtls-Clientcert-Validity': `NotBefore=${iso(cert.notBefore)};NotAfter=${iso(cert.notAfter)}`,
    'X-Amzn-Mtls-Clientcert-Leaf': albUrlEncode(cert.pem),
  };
}
