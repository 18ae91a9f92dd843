// auth.albMtls and clients[].certificates: the certificate rules (subject / SAN / serial, each
// optionally pinned to an issuer), and for passthrough the CA bundle and CRLs, parsed and checked
// once here so a request only looks things up. Problems carry their key paths.
import { X509Certificate } from 'node:crypto';
import type { Rules } from './schema.ts';
import type { KeyPath, ProblemList } from './problems.ts';
import type { Profile } from '../auth/identity.ts';
import type { CertificateRule, CompiledAlbMtls } from '../auth/directory.ts';
import { DerError, normalizeSerial, pemBeginCount, pemBlocks } from '../auth/der.ts';
import { formatDistinguishedName, nameKey, parseDistinguishedName } from '../auth/distinguished-name.ts';
import { certificateFields, crlSignedBy, revocationList, sanKey, type CertificateFields, type RevocationList } from '../auth/x509.ts';

const AT: KeyPath = ['auth', 'albMtls'];

export function compileAlbMtls(rules: Rules, clientsById: ReadonlyMap<string, Profile>, problems: ProblemList, now: Date): CompiledAlbMtls | undefined {
  const spec = rules.auth.albMtls;
  const certificateRules = new Map<string, CertificateRule[]>();
  rules.clients.forEach((client, i) => {
    const profile = clientsById.get(client.id);
    (client.certificates ?? []).forEach((entry, j) => {
      const at: KeyPath = ['clients', i, 'certificates', j];
      const rule = compileEntry(entry, at, problems);
      if (!rule || !profile) return;
      const slot = `${rule.kind}\n${rule.key}`;
      const same = certificateRules.get(slot) ?? [];
      const clash = same.find((other) => other.issuerKey === rule.issuerKey || other.issuerKey === undefined || rule.issuerKey === undefined);
      if (clash) problems.error(at, `the same certificate ${rule.kind} already acts as client "${clash.client.id}" (${clash.text})`);
      else certificateRules.set(slot, [...same, { ...rule, client: profile }]);
    });
  });

  if (!spec) {
    if (certificateRules.size) problems.warning(['clients'], 'clients have certificates, but the rules have no auth.albMtls: no certificate is read, so none signs in');
    return undefined;
  }
  if (!certificateRules.size) problems.warning(AT, 'no client has certificates (clients[].certificates): every certificate would be refused');

  let anchors: X509Certificate[] = [];
  const crls = new Map<string, RevocationList>();
  if (spec.mode === 'verify') {
    if (spec.caBundle !== undefined) problems.error([...AT, 'caBundle'], 'verify mode: the ALB checks the chain against its trust store; caBundle is for passthrough');
    if (spec.crl !== undefined) problems.error([...AT, 'crl'], 'verify mode: revocation lists belong in the ALB\'s trust store; crl is for passthrough');
  } else if (spec.caBundle === undefined) {
    problems.error(AT, 'passthrough mode needs caBundle: the ALB passes certificates on unchecked, so the gateway must verify them');
  } else {
    anchors = compileAnchors(spec.caBundle, problems, now);
    if (spec.crl !== undefined) compileCrls(spec.crl, anchors, problems, now).forEach((crl, key) => crls.set(key, crl));
  }
  return { mode: spec.mode, clockSkewMs: spec.clockSkewSeconds * 1000, rules: certificateRules, anchors, crls };
}

function compileEntry(
  entry: { subject?: string | undefined; san?: string | undefined; serial?: string | undefined; issuer?: string | undefined },
  at: KeyPath,
  problems: ProblemList,
): Omit<CertificateRule, 'client'> | undefined {
  const given = (['subject', 'san', 'serial'] as const).filter((kind) => entry[kind] !== undefined);
  if (given.length !== 1) {
    problems.error(at, `give exactly one of subject, san or serial (here: ${given.join(', ') || 'none'})`);
    return undefined;
  }
  const kind = given[0]!;
  let issuerKey: string | undefined;
  if (entry.issuer !== undefined) {
    const issuer = parseDistinguishedName(entry.issuer);
    if (!issuer) problems.error([...at, 'issuer'], 'not a distinguished name in RFC 2253 form (CN=Example CA,O=Example,C=US)');
    else issuerKey = nameKey(issuer);
  } else if (kind === 'serial') {
    problems.error(at, 'a serial number is unique only within its CA: add issuer (the CA\'s subject DN)');
    return undefined;
  }
  const pin = entry.issuer !== undefined ? ` issued by ${entry.issuer}` : '';
  if (kind === 'subject') {
    const subject = parseDistinguishedName(entry.subject!);
    if (!subject) {
      problems.error([...at, 'subject'], 'not a distinguished name in RFC 2253 form (CN=erp-batch,O=Example,C=US)');
      return undefined;
    }
    return { kind, key: nameKey(subject), ...(issuerKey ? { issuerKey } : {}), text: `subject ${formatDistinguishedName(subject)}${pin}` };
  }
  if (kind === 'san') return { kind, key: sanKey(entry.san!), ...(issuerKey ? { issuerKey } : {}), text: `SAN ${entry.san}${pin}` };
  const serial = normalizeSerial(entry.serial!);
  return { kind, key: serial, ...(issuerKey ? { issuerKey } : {}), text: `serial ${serial}${pin}` };
}

function compileAnchors(pem: string, problems: ProblemList, now: Date): X509Certificate[] {
  const at: KeyPath = [...AT, 'caBundle'];
  const blocks = pemBlocks(pem, 'CERTIFICATE');
  if (blocks.length === 0 || blocks.length !== pemBeginCount(pem)) {
    problems.error(at, 'not a bundle of PEM certificates (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----, nothing else)');
    return [];
  }
  const anchors: X509Certificate[] = [];
  blocks.forEach((der, i) => {
    let certificate: X509Certificate;
    let fields: CertificateFields; // what requests will read from it must parse too
    try {
      certificate = new X509Certificate(der);
      fields = certificateFields(der);
    } catch {
      problems.error(at, `certificate ${i + 1} of the bundle cannot be read`);
      return;
    }
    const name = formatDistinguishedName(fields.subject);
    if (!certificate.ca) problems.error(at, `certificate ${i + 1} (${name}) is not a CA certificate (basicConstraints CA:TRUE)`);
    else if (fields.notAfterMs <= now.getTime()) problems.warning(at, `CA ${name} expired on ${new Date(fields.notAfterMs).toISOString()}: no certificate chains to it`);
    anchors.push(certificate);
  });
  return anchors;
}

function compileCrls(pem: string, anchors: ReadonlyArray<X509Certificate>, problems: ProblemList, now: Date): Map<string, RevocationList> {
  const at: KeyPath = [...AT, 'crl'];
  const crls = new Map<string, RevocationList>();
  const blocks = pemBlocks(pem, 'X509 CRL');
  if (blocks.length === 0 || blocks.length !== pemBeginCount(pem)) {
    problems.error(at, 'not PEM revocation lists (-----BEGIN X509 CRL----- ... -----END X509 CRL-----, nothing else)');
    return crls;
  }
  blocks.forEach((der, i) => {
    let crl: RevocationList;
    try {
      crl = revocationList(der);
    } catch (error) {
      problems.error(at, `CRL ${i + 1} cannot be read${error instanceof DerError ? ` (${error.message})` : ''}`);
      return;
    }
    const issuer = formatDistinguishedName(crl.issuer);
    const key = nameKey(crl.issuer);
    const ca = anchors.find((anchor) => nameKey(certificateFields(new Uint8Array(anchor.raw)).subject) === key);
    if (!ca) return problems.error(at, `CRL ${i + 1} is issued by ${issuer}, which is not a CA of caBundle`);
    const signed = crlSignedBy(crl, ca.publicKey);
    if (signed === undefined) return problems.error(at, `CRL ${i + 1} (${issuer}) uses a signature algorithm the gateway does not check (${crl.algorithm}); use RSA or ECDSA with SHA-2, or Ed25519`);
    if (!signed) return problems.error(at, `CRL ${i + 1} is not signed by ${issuer} (its signature does not verify with that CA's key)`);
    if (crls.has(key)) return problems.error(at, `two CRLs of ${issuer}: keep the newest only`);
    if (crl.nextUpdateMs !== undefined && crl.nextUpdateMs <= now.getTime()) {
      problems.warning(at, `the CRL of ${issuer} is past its nextUpdate (${new Date(crl.nextUpdateMs).toISOString()}): every certificate of that CA is refused until a fresh one is loaded`);
    }
    crls.set(key, crl);
  });
  return crls;
}
