// The CDK app's options and the refusals that keep the stacks and the rules file in agreement:
// HTTPS unless plain HTTP is asked for (with a warning), the ALB's OIDC sign-in exactly when the
// rules trust it, the deregistration delay following the rules' drain and never beyond the unit's
// stop timeout, the optional SageMaker domain.
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, scratchTempDirs } from '../support/processes.ts';
import { API_KEY_SHA256, CERTIFICATE_ARN, cfnLint, EXISTING_VPC, nagFindings, removeSynthesized, synth } from '../support/infra.ts';
import { Match } from '../../infra/lib/testing.ts';

setDefaultTimeout(240_000);
afterAll(removeSynthesized);
const tempDir = scratchTempDirs();

const MLFLOW_ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/existing';
const BASE = { vpcId: EXISTING_VPC, mlflowArn: MLFLOW_ARN, apiKeySha256: API_KEY_SHA256 };
const SHIPPED = readFileSync(join(REPO, 'rules.yaml'), 'utf8');
const OIDC = {
  issuer: 'https://login.example.com',
  authorizationEndpoint: 'https://login.example.com/authorize',
  tokenEndpoint: 'https://login.example.com/token',
  userInfoEndpoint: 'https://login.example.com/userinfo',
  clientId: 'mlflow-gateway',
  clientSecretName: 'mlflow-gateway/oidc-client-secret',
};

function rulesFile(text: string): string {
  const file = join(tempDir('rules'), 'rules.yaml');
  writeFileSync(file, text);
  return file;
}
const withAlbAuth = (albArn: string) => SHIPPED.replace('  realm: MLflow\n', `  realm: MLflow\n  alb:\n    albArn: ${albArn}\n    subjectClaim: email\n`);
const gatewayOf = (s: ReturnType<typeof synth>) => s.templates['MlflowProxy-GatewayTracking']!;

describe('listeners', () => {
  test('without a certificate and without allowHttp, synth refuses and says how to give one', () => {
    expect(() => synth({ ...BASE })).toThrow(/certificateArn: the HTTPS listener needs an ACM certificate ARN/);
  });

  test('allowHttp gives a plain-HTTP listener on port 80 and a warning about clear-text credentials', () => {
    const s = synth({ ...BASE, allowHttp: 'true' });
    const gateway = gatewayOf(s);
    gateway.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, Protocol: 'HTTP' });
    gateway.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 1);
    const warnings = s.app.node.findAll().flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:warning').map((m) => String(m.data)));
    expect(warnings.some((w) => w.includes('allowHttp') && w.includes('clear text'))).toBe(true);
    expect((gateway.toJSON().Outputs as any).Url.Value['Fn::Join'][1][0]).toBe('http://');
    // Both cdk-nag packs run at every synth: what a test deployment without HTTPS must give up is acknowledged.
    expect(nagFindings(s.app).filter((f) => f.severity === 'error')).toEqual([]);
    expect(nagFindings(s.app, 'NIST.800.53.R5')).toEqual([]);
  });
});

describe("the ALB's OIDC sign-in and the rules' auth.alb", () => {
  test('with both, browsers on /ui sign in at the identity provider; other requests pass unauthenticated to the gateway', () => {
    const s = synth({ ...BASE, certificateArn: CERTIFICATE_ARN, oidc: JSON.stringify(OIDC), rulesFile: rulesFile(withAlbAuth('${ALB_ARN}')) });
    const gateway = gatewayOf(s);
    const oidcConfig = Match.objectLike({ Issuer: OIDC.issuer, ClientId: OIDC.clientId, ClientSecret: Match.stringLikeRegexp(`secretsmanager:${OIDC.clientSecretName}`) });
    gateway.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Protocol: 'HTTPS',
      DefaultActions: [
        { Type: 'authenticate-oidc', Order: 1, AuthenticateOidcConfig: Match.objectLike({ OnUnauthenticatedRequest: 'allow' }) },
        Match.objectLike({ Type: 'forward', Order: 2 }),
      ],
    });
    gateway.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
      Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/ui', '/ui/*'] } }],
      Actions: [{ Type: 'authenticate-oidc', Order: 1, AuthenticateOidcConfig: Match.objectLike({ OnUnauthenticatedRequest: 'authenticate' }) }, Match.objectLike({ Type: 'forward' })],
    });
    gateway.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { DefaultActions: Match.arrayWith([Match.objectLike({ AuthenticateOidcConfig: oidcConfig })]) });
    // The ALB calls the identity provider's token and user-info endpoints itself.
    gateway.hasResourceProperties('AWS::EC2::SecurityGroup', { GroupDescription: Match.stringLikeRegexp('^Gateway ALB'), SecurityGroupEgress: Match.arrayWith([Match.objectLike({ CidrIp: '0.0.0.0/0', FromPort: 443 })]) });
    expect(cfnLint(s.outdir).filter((m) => m.Level === 'Error')).toEqual([]);
    expect(nagFindings(s.app).filter((f) => f.severity === 'error')).toEqual([]);
  });

  test('OIDC on the ALB without auth.alb in the rules is refused (the gateway would answer 401 to every signed-in browser)', () => {
    expect(() => synth({ ...BASE, certificateArn: CERTIFICATE_ARN, oidc: JSON.stringify(OIDC) })).toThrow(/has no auth.alb/);
  });

  test('auth.alb in the rules without OIDC on the ALB is refused', () => {
    expect(() => synth({ ...BASE, certificateArn: CERTIFICATE_ARN, rulesFile: rulesFile(withAlbAuth('${ALB_ARN}')) })).toThrow(/no OIDC sign-in/);
  });

  test("auth.alb naming another load balancer than this stack's is refused", () => {
    const other = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/other/0123456789abcdef';
    expect(() => synth({ ...BASE, certificateArn: CERTIFICATE_ARN, oidc: JSON.stringify(OIDC), rulesFile: rulesFile(withAlbAuth(other)) })).toThrow(/albArn must be \$\{ALB_ARN\}/);
  });
});

describe("the rules' drain", () => {
  const drain = (d: number, f: number) => SHIPPED.replace('  drainSeconds: 15\n  finishSeconds: 10\n', `  drainSeconds: ${d}\n  finishSeconds: ${f}\n`);

  test('the deregistration delay follows drainSeconds + finishSeconds (+5 s)', () => {
    const s = synth({ ...BASE, certificateArn: CERTIFICATE_ARN, rulesFile: rulesFile(drain(20, 10)) });
    gatewayOf(s).hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '35' }]),
    });
  });

  test("a drain that would outlast the unit's TimeoutStopSec (45 s) is refused", () => {
    expect(() => synth({ ...BASE, certificateArn: CERTIFICATE_ARN, rulesFile: rulesFile(drain(30, 20)) })).toThrow(/is not below the unit's TimeoutStopSec \(45 s\)/);
  });
});

describe('other options', () => {
  test("what iam-policy says its policy cannot cover becomes a synth warning (a discovered artifact root)", () => {
    const s = synth({ ...BASE, certificateArn: CERTIFICATE_ARN, rulesFile: rulesFile(SHIPPED.replace('# artifacts:\n', 'artifacts:\n  discover: true\n')) });
    const warnings = s.app.node.findAll().flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:warning').map((m) => String(m.data)));
    expect(warnings.some((w) => w.startsWith('iam-policy: artifacts.discover: the S3 artifact root is found at start-up'))).toBe(true);
    gatewayOf(s).hasResourceProperties('AWS::IAM::Policy', { PolicyName: 'sagemaker-mlflow-proxy-iam-policy', PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'DescribeMlflowBackend' })]) } });
  });

  test('createDomain adds a VPC-only SageMaker domain with IAM sign-in in the private subnets', () => {
    const s = synth({ ...BASE, certificateArn: CERTIFICATE_ARN, createDomain: 'true' });
    const domain = s.templates['MlflowProxy-Domain']!;
    domain.hasResourceProperties('AWS::SageMaker::Domain', {
      AuthMode: 'IAM',
      AppNetworkAccessType: 'VpcOnly',
      VpcId: EXISTING_VPC,
      SubnetIds: ['subnet-00000000000000003', 'subnet-00000000000000004'],
    });
    domain.resourceCountIs('AWS::SageMaker::UserProfile', 1);
    expect(cfnLint(s.outdir).filter((m) => m.Level === 'Error')).toEqual([]);
    expect(nagFindings(s.app).filter((f) => f.severity === 'error')).toEqual([]);
  });

  test('an MLflow App ARN with mlflowMode tracking-server (or any non-MLflow ARN) is refused', () => {
    expect(() => synth({ ...BASE, certificateArn: CERTIFICATE_ARN, mlflowArn: 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-app/app-0123456789ab' })).toThrow(/mlflowArn is an mlflow-app ARN but mlflowMode is tracking-server/);
    expect(() => synth({ ...BASE, certificateArn: CERTIFICATE_ARN, mlflowArn: 'arn:aws:s3:::bucket' })).toThrow(/not a SageMaker MLflow/);
  });
});
