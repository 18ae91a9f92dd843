// End to end, a client certificate in both ALB modes: the stock MLflow Python client with only a
// client certificate (MLFLOW_TRACKING_CLIENT_CERT_PATH; no token, no password) → the ALB mutual-TLS
// stand-in (test/standins/alb-mtls.mjs: TLS with a client certificate, the X-Amzn-Mtls-* headers)
// → the gateway, built as it ships → the SigV4-verifying SageMaker stand-in → a real `mlflow server`.
// Verify mode runs the compiled executable, passthrough mode the bundle under Deno, so both
// runtimes read certificates. A
// revoked certificate (passthrough) and a certificate no client lists (verify) get 401s whose
// reasons are in the audit lines.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MLFLOW_VERSIONS, mlflowUserEnv, startMlflow, venvPython } from '../support/mlflow.ts';
import { auditLines, cleanAwsEnv, REPO, startProcess, tempDir, waitFor, type Started } from '../support/processes.ts';
import { denoBinary, startBuiltGateway, type BuiltRuntime } from '../support/build.ts';
import { makeTestPki, type Issued, type TestPki } from '../support/certificates.ts';
import { startDataPlane, type DataPlaneStandin } from '../support/standin.ts';
import { staticCredentials } from '../support/credentials.ts';

setDefaultTimeout(300_000);

const VERSION = MLFLOW_VERSIONS.at(-1)!;
const ARN = 'arn:aws:sagemaker:us-west-2:123456789012:mlflow-tracking-server/mtls';
const HOST = staticCredentials('MTLSE2E00001');
let pki: TestPki;
let mlflow: Started & { url: string };
let standin: DataPlaneStandin;
const running: Started[] = [];

beforeAll(async () => {
  pki = makeTestPki();
  mlflow = await startMlflow(VERSION);
  standin = await startDataPlane(venvPython(VERSION), ARN, mlflow.url);
});
afterAll(async () => {
  for (const process of running.reverse()) await process.stop();
  await standin?.stop();
  await mlflow?.stop();
});

const block = (pem: string) => pem.trim().split('\n').map((line) => `      ${line}`).join('\n');

/** A gateway in one mode behind its ALB stand-in; returns the stand-in's https URL. */
async function behindAlb(mode: 'verify' | 'passthrough', runtime: BuiltRuntime): Promise<{ url: string; gateway: Started }> {
  const dir = tempDir(`mtls-${mode}`);
  const rules = join(dir, 'rules.yaml');
  const section = mode === 'verify'
    ? '  albMtls: {mode: verify}'
    : `  albMtls:\n    mode: passthrough\n    caBundle: |\n${block(pki.rootA.pem)}\n    crl: |\n${block(pki.crlA)}`;
  writeFileSync(rules, `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {arn: ${ARN}, endpoint: "http://127.0.0.1:${standin.port}"}
auth:
${section}
clients:
  - id: erp-batch
    certificates: [{subject: "${pki.client.subject}", issuer: "${pki.rootA.subject}"}]
    policies: [trainer]
policies:
  reader: {operations: ["Get*", "Search*", "List*"]}
  trainer: {include: [reader], operations: [CreateExperiment, SetExperimentTag, CreateRun, UpdateRun, "Log*", SetTag,
    CreateRegisteredModel, CreateModelVersion, SetRegisteredModelAlias]}
`);
  const gateway = await startBuiltGateway(runtime, rules, cleanAwsEnv({ AWS_ACCESS_KEY_ID: HOST.accessKeyId, AWS_SECRET_ACCESS_KEY: HOST.secretAccessKey }));
  running.push(gateway);
  const alb = await startProcess(
    denoBinary(),
    ['run', '-A', join(REPO, 'test/standins/alb-mtls.mjs'), mode, `http://127.0.0.1:${gateway.port}`, pki.server.certFile, pki.server.keyFile, pki.rootA.certFile],
    { name: `ALB stand-in (${mode})`, ready: (output) => Number(/listening (\d+)/.exec(output)?.[1]) || undefined },
  );
  running.push(alb);
  return { url: `https://127.0.0.1:${alb.port}`, gateway };
}

/** A PEM file with the certificate and its key: what requests (and so MLflow) takes as a client certificate. */
function clientCertificateFile(cert: Issued): string {
  const file = join(tempDir('client-cert'), 'client.pem');
  writeFileSync(file, `${readFileSync(cert.certFile, 'utf8')}${readFileSync(cert.keyFile, 'utf8')}`);
  return file;
}

async function runWorkflow(url: string, cert: Issued, label: string) {
  const child = Bun.spawn([venvPython(VERSION), join(REPO, 'test/e2e/mlflow_workflow.py'), `${label}${Date.now()}`], {
    env: mlflowUserEnv(url, { MLFLOW_TRACKING_CLIENT_CERT_PATH: clientCertificateFile(cert), MLFLOW_TRACKING_SERVER_CERT_PATH: pki.rootA.certFile }),
    stdout: 'pipe',
    stderr: 'pipe',
    timeout: 240_000,
  });
  const [stdout, stderr, status] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (status !== 0) throw new Error(`workflow (${label}) failed (${status}):\n${stdout}\n${stderr.slice(-4000)}`);
  const result = JSON.parse(stdout.trim().split('\n').pop()!);
  expect(result.ok).toBe(true);
}

/** One request with a client certificate, through the stand-in (Bun's fetch with tls options). */
async function statusWith(url: string, cert: Issued): Promise<number> {
  const response = await fetch(`${url}/api/2.0/mlflow/experiments/search?max_results=1`, {
    tls: { cert: readFileSync(cert.certFile, 'utf8'), key: readFileSync(cert.keyFile, 'utf8'), ca: pki.rootA.pem },
  } as RequestInit);
  await response.arrayBuffer();
  return response.status;
}

const CASES: Array<['verify' | 'passthrough', BuiltRuntime, keyof TestPki, RegExp]> = [
  ['verify', 'the compiled executable', 'stranger', /^alb-mtls: no client has this certificate \(subject CN=stranger/],
  ['passthrough', 'the bundle under Deno', 'revoked', /^alb-mtls: certificate CN=erp-batch,O=Example,C=US \(serial [0-9A-F]+\) is revoked/],
];

for (const [mode, runtime, refused, reason] of CASES) {
  describe(`ALB ${mode} mode, gateway as ${runtime}`, () => {
    let url: string;
    let gateway: Started;
    beforeAll(async () => {
      ({ url, gateway } = await behindAlb(mode, runtime));
    });

    test(`the stock MLflow ${VERSION} client signs in with its certificate alone`, async () => {
      await runWorkflow(url, pki.client, mode);
      const lines = auditLines(gateway.output());
      expect(lines.length).toBeGreaterThan(15);
      expect(lines.every((l) => l.clientId === 'erp-batch' && l.authMethod === 'alb-mtls' && l.decision === 'allowed')).toBe(true);
      expect(standin.log().filter((l) => l.verdict !== 'forwarded')).toEqual([]);
    });

    test(`a ${refused} certificate gets 401, its reason in the audit line`, async () => {
      const before = auditLines(gateway.output()).length;
      expect(await statusWith(url, pki[refused] as Issued)).toBe(401);
      await waitFor(() => auditLines(gateway.output()).length > before);
      const line = auditLines(gateway.output()).at(-1)!;
      expect(line).toMatchObject({ decision: 'unauthenticated', status: 401 });
      expect(String(line.reason)).toMatch(reason);
    });
  });
}
