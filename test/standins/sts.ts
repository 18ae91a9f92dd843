// TEST STAND-IN for AWS STS (AssumeRole, Query protocol), which cannot be reached here. It checks
// the caller's SigV4 signature (signing name `sts`) with aws4, as STS would, and hands out
// temporary stand-in credentials for the role (their secret is derivable, so the data-plane
// stand-in can verify what is signed with them).
import { verifySignature } from './sigv4-verifier.ts';
import { temporaryCredentials } from '../support/credentials.ts';

export interface StsCall {
  accessKeyId?: string;
  verdict: 'issued' | 'rejected';
  reason?: string;
  params: Record<string, string>;
  issued?: string;
}

export function startSts(region: string) {
  const calls: StsCall[] = [];
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      const body = new Uint8Array(await request.arrayBuffer());
      const params = Object.fromEntries(new URLSearchParams(new TextDecoder().decode(body)));
      const verdict = verifySignature(request, request.url, body, { region, service: 'sts', maxSkewSeconds: 300 });
      if (!verdict.ok) {
        calls.push({ verdict: 'rejected', reason: verdict.reason, params });
        return new Response(errorXml('SignatureDoesNotMatch', verdict.reason), { status: 403, headers: { 'content-type': 'text/xml' } });
      }
      if (params.Action !== 'AssumeRole' || !params.RoleArn || !params.RoleSessionName) {
        calls.push({ accessKeyId: verdict.accessKeyId, verdict: 'rejected', reason: 'bad parameters', params });
        return new Response(errorXml('ValidationError', 'bad parameters'), { status: 400, headers: { 'content-type': 'text/xml' } });
      }
      const lifetime = Number(params.DurationSeconds ?? 3600) * 1000;
      const credentials = temporaryCredentials(new Date(Date.now() + lifetime), calls.length + 1000);
      calls.push({ accessKeyId: verdict.accessKeyId, verdict: 'issued', params, issued: credentials.accessKeyId });
      const xml = `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>${credentials.accessKeyId}</AccessKeyId>
      <SecretAccessKey>${credentials.secretAccessKey}</SecretAccessKey>
      <SessionToken>${credentials.sessionToken}</SessionToken>
      <Expiration>${credentials.expiration!.toISOString()}</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <AssumedRoleId>AROASTANDIN:${params.RoleSessionName}</AssumedRoleId>
      <Arn>${params.RoleArn.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/')}/${params.RoleSessionName}</Arn>
    </AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>${crypto.randomUUID()}</RequestId></ResponseMetadata>
</AssumeRoleResponse>`;
      return new Response(xml, { headers: { 'content-type': 'text/xml' } });
    },
  });
  return { port: server.port!, calls, stop: () => server.stop(true) };
}

function errorXml(code: string, message: string): string {
  return `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${crypto.randomUUID()}</RequestId></ErrorResponse>`;
}
