// TEST STAND-IN for an Application Load Balancer listener with mutual TLS, which cannot be reached
// here: `deno run -A test/standins/alb-mtls.mjs MODE GATEWAY_URL SERVER_CERT SERVER_KEY [TRUST_STORE]`.
// It terminates TLS on 127.0.0.1, asks the client for a certificate, and forwards each request to
// the gateway with the headers the ALB adds (Elastic Load Balancing user guide, "Mutual
// authentication with TLS in Application Load Balancer", "HTTP headers"), replacing any the client
// sent itself:
//   verify       the handshake requires a certificate that chains to TRUST_STORE (expired ones
//                refused, as the ALB does unless told to ignore expiry); then
//                X-Amzn-Mtls-Clientcert-Subject / -Issuer (RFC 2253), -Serial-Number (hex),
//                -Validity (NotBefore=ISO;NotAfter=ISO), -Leaf (URL-encoded PEM, +=/ unescaped);
//   passthrough  any certificate is accepted unchecked; X-Amzn-Mtls-Clientcert carries the chain the
//                client sent (leaf first), URL-encoded likewise.
// Deno, because its node:https gives the peer's chain (getPeerCertificate(true)); Bun's does not
// (1.4: no getPeerCertificate on the request socket). Prints `listening PORT` when ready. The names
// are rendered from node:crypto's X509Certificate, independently of the gateway's DER reader.
import https from 'node:https';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

const [mode, gatewayUrl, certFile, keyFile, trustFile] = process.argv.slice(2);
if (mode !== 'verify' && mode !== 'passthrough') throw new Error('usage: alb-mtls.mjs verify|passthrough GATEWAY_URL CERT KEY [TRUST_STORE]');

const albEncode = (pem) => encodeURIComponent(pem).replace(/%2B/g, '+').replace(/%3D/g, '=').replace(/%2F/g, '/');
// X509Certificate.subject is one attribute per line, in DER order; RFC 2253 is the reverse, comma-joined.
const rfc2253 = (lines) => lines.split('\n').reverse().join(',');
const iso = (text) => new Date(text).toISOString().replace(/\.\d+Z$/, 'Z');
const pemOf = (der) => `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').match(/.{1,64}/g).join('\n')}\n-----END CERTIFICATE-----\n`;

function certificateHeaders(socket) {
  const peer = socket.getPeerCertificate(true);
  if (!peer || !peer.raw) return {};
  if (mode === 'verify') {
    const leaf = new X509Certificate(peer.raw);
    return {
      'X-Amzn-Mtls-Clientcert-Serial-Number': leaf.serialNumber.toUpperCase(),
      'X-Amzn-Mtls-Clientcert-Issuer': rfc2253(leaf.issuer),
      'X-Amzn-Mtls-Clientcert-Subject': rfc2253(leaf.subject),
      'X-Amzn-Mtls-Clientcert-Validity': `NotBefore=${iso(leaf.validFrom)};NotAfter=${iso(leaf.validTo)}`,
      'X-Amzn-Mtls-Clientcert-Leaf': albEncode(pemOf(peer.raw)),
    };
  }
  const chain = [];
  for (let cert = peer; cert && cert.raw && !chain.includes(cert); cert = cert.issuerCertificate === cert ? undefined : cert.issuerCertificate) chain.push(cert);
  return { 'X-Amzn-Mtls-Clientcert': albEncode(chain.map((cert) => pemOf(cert.raw)).join('')) };
}

const server = https.createServer(
  {
    cert: readFileSync(certFile),
    key: readFileSync(keyFile),
    requestCert: true,
    rejectUnauthorized: mode === 'verify',
    ...(mode === 'verify' ? { ca: readFileSync(trustFile) } : {}),
  },
  async (request, response) => {
    try {
      const headers = new Headers();
      for (const [name, value] of Object.entries(request.headers)) {
        if (/^x[-_]amzn[-_]mtls/i.test(name) || name === 'host' || name === 'connection') continue;
        for (const one of [].concat(value)) headers.append(name, one);
      }
      for (const [name, value] of Object.entries(certificateHeaders(request.socket))) headers.set(name, value);
      const chunks = [];
      for await (const chunk of request) chunks.push(chunk);
      const body = chunks.length ? Buffer.concat(chunks) : undefined;
      const upstream = await fetch(`${gatewayUrl}${request.url}`, { method: request.method, headers, body, redirect: 'manual' });
      const out = {};
      upstream.headers.forEach((value, name) => {
        if (name !== 'transfer-encoding' && name !== 'connection' && name !== 'content-encoding' && name !== 'content-length') out[name] = value;
      });
      const bytes = Buffer.from(await upstream.arrayBuffer());
      response.writeHead(upstream.status, { ...out, 'content-length': String(bytes.length) });
      response.end(bytes);
    } catch (error) {
      response.writeHead(502, { 'content-type': 'text/plain' });
      response.end(`stand-in: ${error}`);
    }
  },
);
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
