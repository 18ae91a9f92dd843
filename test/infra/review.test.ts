// What a security review asked of the CDK app before approving it (issue 20, items 1-10), one
// behaviour per test, on the synthesized templates (aws-cdk-lib/assertions): closed by default
// (an internal ALB or written-out client ranges, a web ACL, rules that pass check --strict),
// MLflow's data retained, a verified release, timeouts that do not cut requests, rollouts that stop
// themselves, deletion protection and the HTTPS redirect, cross-account refused or wired, two NAT
// gateways and the endpoints with policies, the alarms, and grants as narrow as their reasons say.
// The user data itself runs in user-data.test.ts; the rate-limit store's ACL in shared-limits.test.ts.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match, type Template } from '../../infra/lib/testing.ts';
import { kitArchive } from '../../infra/lib/release-kit.ts';
import { REDACTED_HEADERS } from '../../infra/lib/web-acl.ts';
import { REPO, scratchTempDirs } from '../support/processes.ts';
import { EXECUTABLE } from '../support/build.ts';
import { API_KEY_SHA256, CERTIFICATE_ARN, EXISTING_VPC, HOST_AMI, cfnLint, nagFindings, oneOf, removeSynthesized, resourcesOf, synth, synthWarnings, type Synthesized } from '../support/infra.ts';

setDefaultTimeout(240_000);
afterAll(removeSynthesized);
const tempDir = scratchTempDirs();

const ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/existing';
/** The Gateway stack alone, in front of an existing VPC (10.1.0.0/16) and tracking server. */
const ALONE = { vpcId: EXISTING_VPC, mlflowArn: ARN, certificateArn: CERTIFICATE_ARN, apiKeySha256: API_KEY_SHA256 };
const SHIPPED = readFileSync(join(REPO, 'rules.yaml'), 'utf8');

function rulesFile(text: string): string {
  const file = join(tempDir('rules'), 'rules.yaml');
  writeFileSync(file, text);
  return file;
}
const gatewayOf = (s: Synthesized) => s.templates['MlflowProxy-GatewayTracking']!;
const securityGroupNamed = (template: Template, prefix: string) => resourcesOf(template, 'AWS::EC2::SecurityGroup').find((g) => String(g.props.GroupDescription).startsWith(prefix))!;
const albAttribute = (template: Template, key: string) => (oneOf(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer').props.LoadBalancerAttributes as Array<{ Key: string; Value: string }>).find((a) => a.Key === key)?.Value;
/** Every statement the hosts' role holds, inline or from a policy of the stack attached to it. */
const hostPolicyStatements = (template: Template) =>
  [...resourcesOf(template, 'AWS::IAM::Policy'), ...resourcesOf(template, 'AWS::IAM::ManagedPolicy')]
    .filter((p) => JSON.stringify(p.props.Roles).includes('HostRole'))
    .flatMap((p) => p.props.PolicyDocument.Statement as Array<Record<string, any>>);
/** The user data with references shown as TOKEN. */
const userDataOf = (template: Template) =>
  (oneOf(template, 'AWS::EC2::LaunchTemplate').props.LaunchTemplateData.UserData['Fn::Base64']['Fn::Join'][1] as unknown[]).map((p) => (typeof p === 'string' ? p : 'TOKEN')).join('');

describe('the whole app with its defaults (Network + MLflow tracking server + Gateway)', () => {
  let s: Synthesized;
  let gateway: Template;
  let network: Template;
  let mlflow: Template;
  beforeAll(() => {
    s = synth({ certificateArn: CERTIFICATE_ARN, apiKeySha256: API_KEY_SHA256 });
    gateway = gatewayOf(s);
    network = s.templates['MlflowProxy-Network']!;
    mlflow = s.templates['MlflowProxy-MlflowTracking']!;
  });

  test('1. closed by default: an internal ALB in the private subnets that admits the VPC\'s own range, and nothing from 0.0.0.0/0', () => {
    gateway.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internal' });
    expect(securityGroupNamed(gateway, 'Gateway ALB').props.SecurityGroupIngress).toEqual([expect.objectContaining({ CidrIp: '10.0.0.0/16', FromPort: 443, ToPort: 443 })]);
    expect(JSON.stringify(resourcesOf(gateway, 'AWS::EC2::SecurityGroup').map((g) => g.props.SecurityGroupIngress ?? []))).not.toContain('0.0.0.0/0');
  });

  test('1. a web ACL with AWS managed rule groups and a per-address rate-based rule is associated with the ALB', () => {
    const acl = oneOf(gateway, 'AWS::WAFv2::WebACL');
    expect(acl.props.Scope).toBe('REGIONAL');
    const rules = acl.props.Rules as Array<Record<string, any>>;
    expect(rules.map((r) => r.Statement.ManagedRuleGroupStatement?.Name ?? 'rate')).toEqual(['AWSManagedRulesAmazonIpReputationList', 'rate', 'AWSManagedRulesKnownBadInputsRuleSet', 'AWSManagedRulesCommonRuleSet']);
    expect(rules[1]).toMatchObject({ Action: { Block: {} }, Statement: { RateBasedStatement: { Limit: 10000, AggregateKeyType: 'IP' } } });
    // MLflow's bodies (log-batch, artifacts) are larger than the core set's 8 KB: counted, not blocked.
    const overrides = rules[3]!.Statement.ManagedRuleGroupStatement.RuleActionOverrides as Array<{ Name: string; ActionToUse: unknown }>;
    expect(overrides).toContainEqual({ Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } });
    const association = oneOf(gateway, 'AWS::WAFv2::WebACLAssociation').props;
    expect(association.ResourceArn).toEqual({ Ref: oneOf(gateway, 'AWS::ElasticLoadBalancingV2::LoadBalancer').id });
    expect(association.WebACLArn).toEqual({ 'Fn::GetAtt': [acl.id, 'Arn'] });
  });

  test('1. the web ACL logs what it blocks or counts, with the headers that carry credentials redacted', () => {
    const logging = oneOf(gateway, 'AWS::WAFv2::LoggingConfiguration').props;
    expect(logging.RedactedFields).toEqual(REDACTED_HEADERS.map((name) => ({ SingleHeader: { Name: name } })));
    expect(logging.RedactedFields).toContainEqual({ SingleHeader: { Name: 'authorization' } });
    expect(logging.LoggingFilter.DefaultBehavior).toBe('DROP');
    gateway.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: 'aws-waf-logs-MlflowProxy-GatewayTracking' });
  });

  test('2. the tracking server, and the role it reaches its artifacts with, are retained on delete and on replacement; its name is the stack\'s', () => {
    const server = oneOf(mlflow, 'AWS::SageMaker::MlflowTrackingServer');
    expect({ deletion: server.resource.DeletionPolicy, replace: server.resource.UpdateReplacePolicy }).toEqual({ deletion: 'Retain', replace: 'Retain' });
    expect(server.props.TrackingServerName).toBe('MlflowProxy-MlflowTracking');
    for (const type of ['AWS::IAM::Role', 'AWS::IAM::Policy', 'AWS::S3::Bucket']) {
      for (const r of resourcesOf(mlflow, type)) expect({ type, id: r.id, deletion: r.resource.DeletionPolicy }).toEqual({ type, id: r.id, deletion: 'Retain' });
    }
  });

  test('9. the artifact bucket expires old versions after 90 days and abandoned multipart uploads after a week', () => {
    const server = oneOf(mlflow, 'AWS::SageMaker::MlflowTrackingServer');
    const artifacts = resourcesOf(mlflow, 'AWS::S3::Bucket').find((b) => JSON.stringify(server.props.ArtifactStoreUri).includes(b.id))!;
    expect(artifacts.props.LifecycleConfiguration.Rules).toEqual([
      expect.objectContaining({ Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 90 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } }),
    ]);
  });

  test("9. the tracking server role's trust names this account and this tracking server (aws:SourceAccount, aws:SourceArn)", () => {
    const [role] = resourcesOf(mlflow, 'AWS::IAM::Role');
    expect(role!.props.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Principal: { Service: 'sagemaker.amazonaws.com' },
        Condition: {
          StringEqualsIfExists: { 'aws:SourceAccount': '123456789012' },
          ArnLikeIfExists: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sagemaker:us-east-1:123456789012:mlflow-tracking-server/MlflowProxy-MlflowTracking']] } },
        },
      }),
    ]);
  });

  test('3. the user data carries the SHA-256 of the kit archive that is the asset; the host role may read that one object, nothing else of the bucket', () => {
    const archive = kitArchive(EXECUTABLE, join(REPO, 'rules.yaml'));
    expect(createHash('sha256').update(readFileSync(archive.file)).digest('hex')).toBe(archive.sha256);
    const text = userDataOf(gateway);
    expect(text).toContain(`KIT_SHA256=${archive.sha256}\n`);
    const key = /KIT_URL='s3:\/\/[^/]+\/([0-9a-f]{64}\.zip)'/.exec(text)?.[1];
    expect(key).toBeDefined();
    const statements = hostPolicyStatements(gateway);
    expect(statements.find((st) => st.Sid === 'ReadReleaseKit')).toMatchObject({ Action: 's3:GetObject', Effect: 'Allow' });
    expect(JSON.stringify(statements.find((st) => st.Sid === 'ReadReleaseKit')!.Resource)).toContain(`/${key}`);
    const actions = statements.flatMap((st) => [st.Action].flat());
    for (const wide of ['s3:List*', 's3:GetBucket*', 's3:GetObject*']) expect(actions).not.toContain(wide);
  });

  test('4. the ALB waits longer than the backend timeout (120 s) and less than the gateway\'s keep-alive (130 s): 125 s', () => {
    expect(albAttribute(gateway, 'idle_timeout.timeout_seconds')).toBe('125');
  });

  test('5. the instance refresh stops on a host that failed to boot or ALB-generated 5xx, bakes 10 minutes, and the first deploy waits for each host\'s signal', () => {
    const asg = oneOf(gateway, 'AWS::AutoScaling::AutoScalingGroup');
    const alarms = resourcesOf(gateway, 'AWS::CloudWatch::Alarm');
    const refresh = asg.resource.UpdatePolicy.AutoScalingInstanceRefresh.Preferences;
    expect(refresh.BakeTime).toBe(600);
    const watched = (refresh.AlarmSpecification.Alarms as Array<{ Ref: string }>).map((a) => alarms.find((x) => x.id === a.Ref)!.props.MetricName);
    expect(watched).toEqual(['BootFailures', 'HTTPCode_ELB_5XX_Count']);
    expect(asg.resource.CreationPolicy).toEqual({ ResourceSignal: { Count: 2, Timeout: 'PT20M' } });
    expect(userDataOf(gateway)).toContain(`SIGNAL_RESOURCE=${asg.id}\n`);
  });

  test('5. a failed boot is counted from its user-data line (never from a JSON line) and alarms at once', () => {
    gateway.hasResourceProperties('AWS::Logs::MetricFilter', { FilterPattern: '[tag = "user-data:", event = "BOOT_FAILED", ...]', MetricTransformations: [Match.objectLike({ MetricName: 'BootFailures' })] });
    gateway.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'BootFailures', Threshold: 1, EvaluationPeriods: 1 });
  });

  test('5. the AMI is fixed at synth (looked up once, kept in cdk.context.json), not resolved at each deploy', () => {
    expect(oneOf(gateway, 'AWS::EC2::LaunchTemplate').props.LaunchTemplateData.ImageId).toBe(HOST_AMI);
  });

  test('6. deletion protection is on; there is no plain-HTTP listener', () => {
    expect(albAttribute(gateway, 'deletion_protection.enabled')).toBe('true');
    expect(resourcesOf(gateway, 'AWS::ElasticLoadBalancingV2::Listener').map((l) => l.props.Port)).toEqual([443]);
  });

  test('8. one NAT gateway per AZ; endpoints for Secrets Manager and the rest, none for CloudWatch metrics (the hosts publish only the dashboard\'s memory figure, through the NAT gateways)', () => {
    network.resourceCountIs('AWS::EC2::NatGateway', 2);
    const services = resourcesOf(network, 'AWS::EC2::VPCEndpoint').map((e) => JSON.stringify(e.props.ServiceName));
    expect(services.some((n) => n.includes('.secretsmanager"'))).toBe(true);
    expect(services.some((n) => n.includes('.monitoring"'))).toBe(false);
    // Nothing launched in the public subnets gets a public address.
    for (const subnet of resourcesOf(network, 'AWS::EC2::Subnet')) expect(subnet.props.MapPublicIpOnLaunch).toBe(false);
  });

  test("9. every endpoint has a policy: MLflow's admits only this account's tracking servers, the others only this account's principals, S3 also Amazon Linux's repositories", () => {
    const endpoints = resourcesOf(network, 'AWS::EC2::VPCEndpoint');
    for (const endpoint of endpoints) expect({ service: endpoint.props.ServiceName, policy: endpoint.props.PolicyDocument !== undefined }).toEqual({ service: endpoint.props.ServiceName, policy: true });
    const mlflowEndpoint = endpoints.find((e) => JSON.stringify(e.props.ServiceName).includes('experiments'))!;
    expect(mlflowEndpoint.props.PolicyDocument.Statement).toEqual([
      expect.objectContaining({ Action: 'sagemaker-mlflow:*', Effect: 'Allow', Principal: { AWS: '*' }, Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sagemaker:us-east-1:123456789012:mlflow-tracking-server/*']] } }),
    ]);
    const sts = endpoints.find((e) => JSON.stringify(e.props.ServiceName).includes('.sts"'))!;
    expect(sts.props.PolicyDocument.Statement).toEqual([expect.objectContaining({ Principal: { AWS: '*' }, Condition: { StringEquals: { 'aws:PrincipalAccount': ['123456789012'] } } })]);
    const s3 = endpoints.find((e) => e.props.VpcEndpointType === 'Gateway')!;
    expect(JSON.stringify(s3.props.PolicyDocument)).toContain('al2023-repos-us-east-1-*/*');
  });

  test('9. alarms for fewer healthy hosts than the minimum, 401 bursts and failed boots; the topic has a subscriber', () => {
    gateway.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'HealthyHostCount', ComparisonOperator: 'LessThanThreshold', Threshold: 2, TreatMissingData: 'breaching' });
    gateway.hasResourceProperties('AWS::Logs::MetricFilter', { FilterPattern: '{ $.msg = "request" && $.status = 401 }' });
    gateway.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Unauthenticated' });
    gateway.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'mlflow-ops@example.com' });
  });

  test('10. the hosts may not read Parameter Store (AmazonSSMManagedInstanceCore allows it on every parameter): an explicit deny', () => {
    expect(hostPolicyStatements(gateway).find((st) => st.Sid === 'DenyParameterStore')).toMatchObject({ Effect: 'Deny', Action: ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParametersByPath'], Resource: '*' });
  });
});

describe('the MLflow App mode', () => {
  test('2. the App and its role are retained; its name is the stack\'s; the role trusts only this account\'s Apps', () => {
    const s = synth({ mlflowMode: 'mlflow-app', certificateArn: CERTIFICATE_ARN, apiKeySha256: API_KEY_SHA256, mlflowName: 'team-mlflow' });
    const mlflow = s.templates['MlflowProxy-MlflowApp']!;
    const app = oneOf(mlflow, 'AWS::SageMaker::MlflowApp');
    expect({ deletion: app.resource.DeletionPolicy, replace: app.resource.UpdateReplacePolicy, name: app.props.Name }).toEqual({ deletion: 'Retain', replace: 'Retain', name: 'team-mlflow' });
    expect(JSON.stringify(oneOf(mlflow, 'AWS::IAM::Role').props.AssumeRolePolicyDocument)).toContain(':123456789012:mlflow-app/*');
    expect(nagFindings(s.app, 'NIST.800.53.R5')).toEqual([]);
  });
});

describe('who may reach the load balancer (item 1)', () => {
  test('an internet-facing ALB without the client ranges written out is refused, naming the option', () => {
    expect(() => synth({ ...ALONE, internetFacing: 'true' })).toThrow(/albIngressCidrs: an internet-facing ALB .* needs the client ranges written out/);
  });

  test('the old albIngressCidr (which defaulted to 0.0.0.0/0) is refused with its new name', () => {
    expect(() => synth({ ...ALONE, albIngressCidr: '0.0.0.0/0' })).toThrow(/albIngressCidr: renamed albIngressCidrs/);
  });

  test('internet-facing with ranges: the public subnets, those ranges on 443 and nothing else', () => {
    const gateway = gatewayOf(synth({ ...ALONE, internetFacing: 'true', albIngressCidrs: '203.0.113.0/24,198.51.100.0/24' }));
    gateway.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internet-facing', Subnets: ['subnet-00000000000000001', 'subnet-00000000000000002'] });
    expect(securityGroupNamed(gateway, 'Gateway ALB').props.SecurityGroupIngress.map((r: { CidrIp: string; FromPort: number }) => `${r.CidrIp}:${r.FromPort}`)).toEqual(['203.0.113.0/24:443', '198.51.100.0/24:443']);
  });

  test('0.0.0.0/0 only as written, with a warning; a range that is not a CIDR block is refused', () => {
    const s = synth({ ...ALONE, internetFacing: 'true', albIngressCidrs: '0.0.0.0/0' });
    expect(synthWarnings(s).some((w) => w.includes('0.0.0.0/0: anyone on the internet'))).toBe(true);
    expect(nagFindings(s.app).filter((f) => f.severity === 'error')).toEqual([]);
    expect(() => synth({ ...ALONE, albIngressCidrs: '10.0.0.0/33' })).toThrow(/"10.0.0.0\/33" is not an IPv4 CIDR block/);
  });

  test('an internal ALB in an existing VPC admits that VPC\'s range', () => {
    expect(securityGroupNamed(gatewayOf(synth({ ...ALONE })), 'Gateway ALB').props.SecurityGroupIngress).toEqual([expect.objectContaining({ CidrIp: '10.1.0.0/16', FromPort: 443 })]);
  });
});

describe('the web ACL (item 1)', () => {
  test('-c webAclArn associates that ACL and creates none; -c waf=false associates none and warns', () => {
    const existing = 'arn:aws:wafv2:us-east-1:123456789012:regional/webacl/corp/0123abcd-0123-0123-0123-0123456789ab';
    const withExisting = gatewayOf(synth({ ...ALONE, webAclArn: existing }));
    withExisting.resourceCountIs('AWS::WAFv2::WebACL', 0);
    withExisting.hasResourceProperties('AWS::WAFv2::WebACLAssociation', { WebACLArn: existing });
    const none = synth({ ...ALONE, waf: 'false' });
    gatewayOf(none).resourceCountIs('AWS::WAFv2::WebACLAssociation', 0);
    expect(synthWarnings(none).some((w) => w.startsWith('waf=false'))).toBe(true);
    expect(nagFindings(none.app, 'NIST.800.53.R5')).toEqual([]);
  });
});

describe('the rules the hosts run pass check --strict (item 1)', () => {
  test('a key without an expiry is refused at synth, with check\'s own warning and the option that gives one', () => {
    expect(() => synth({ ...ALONE, apiKeyExpires: '' })).toThrow(/does not pass `check --strict`[\s\S]*never expires[\s\S]*-c apiKeyExpires=YYYY-MM-DD/);
  });

  test('an expiry in the past is refused before anything is read', () => {
    expect(() => synth({ ...ALONE, apiKeyExpires: '2020-01-01' })).toThrow(/apiKeyExpires: 2020-01-01 is in the past/);
  });

  test('a wildcard admin is refused; -c allowRuleWarnings=true deploys it, each warning a synth warning', () => {
    const admin = rulesFile(SHIPPED.replace('    policies: [log-runs]\n', '    policies: [admin]\n').replace(/^policies:\n/m, "policies:\n  admin:\n    operations: ['*']\n"));
    expect(() => synth({ ...ALONE, rulesFile: admin })).toThrow(/grants every MLflow operation/);
    const s = synth({ ...ALONE, rulesFile: admin, allowRuleWarnings: 'true' });
    expect(synthWarnings(s).some((w) => w.startsWith('rules: ') && w.includes('wildcard admin'))).toBe(true);
  });
});

describe('timeouts (item 4)', () => {
  const timeout = (seconds: number) => rulesFile(SHIPPED.replace('  timeoutSeconds: 120\n', `  timeoutSeconds: ${seconds}\n`));

  test('the ALB idle timeout follows backend.timeoutSeconds (+5 s)', () => {
    expect(albAttribute(gatewayOf(synth({ ...ALONE, rulesFile: timeout(60) })), 'idle_timeout.timeout_seconds')).toBe('65');
  });

  test('a backend timeout that leaves no room below the gateway\'s keep-alive (Bun caps it at 255 s) is refused', () => {
    expect(() => synth({ ...ALONE, rulesFile: timeout(250) })).toThrow(/backend.timeoutSeconds \(250\) leaves no room/);
  });
});

describe('deletion protection and plain HTTP (item 6)', () => {
  test('with a certificate, allowHttp adds port 80 that only redirects to HTTPS (301)', () => {
    const s = synth({ ...ALONE, allowHttp: 'true' });
    const gateway = gatewayOf(s);
    gateway.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80,
      Protocol: 'HTTP',
      DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }],
    });
    expect(JSON.stringify(resourcesOf(gateway, 'AWS::ElasticLoadBalancingV2::Listener').filter((l) => l.props.Port === 80))).not.toContain('forward');
    // Both packs run at every synth (bin/app.ts): an unacknowledged finding here would refuse this deployment.
    expect(nagFindings(s.app).filter((f) => f.severity === 'error')).toEqual([]);
    expect(nagFindings(s.app, 'NIST.800.53.R5')).toEqual([]);
  });

  test('-c albDeletionProtection=false turns it off (as before `cdk destroy`)', () => {
    expect(albAttribute(gatewayOf(synth({ ...ALONE, albDeletionProtection: 'false' })), 'deletion_protection.enabled')).toBe('false');
  });
});

describe("another account's MLflow (item 7)", () => {
  const FOREIGN = 'arn:aws:sagemaker:us-east-1:999988887777:mlflow-tracking-server/central';
  const ROLE = 'arn:aws:iam::999988887777:role/mlflow-gateway';

  test('refused without a role of that account to assume, saying how to give one', () => {
    expect(() => synth({ ...ALONE, mlflowArn: FOREIGN })).toThrow(/is in account 999988887777, the stack in 123456789012[\s\S]*MLFLOW_ASSUME_ROLE_ARN/);
  });

  test('with MLFLOW_ASSUME_ROLE_ARN: the hosts may assume that role and hold no MLflow permission; the role is an output', () => {
    const s = synth({ ...ALONE, mlflowArn: FOREIGN, gatewayEnv: JSON.stringify({ MLFLOW_ASSUME_ROLE_ARN: ROLE }) });
    const gateway = gatewayOf(s);
    expect(hostPolicyStatements(gateway).find((st) => st.Sid === 'AssumeBackendRole')).toMatchObject({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: ROLE });
    expect(resourcesOf(gateway, 'AWS::IAM::Policy').map((p) => p.props.PolicyName)).not.toContain('sagemaker-mlflow-proxy-iam-policy');
    expect(JSON.stringify(hostPolicyStatements(gateway))).not.toMatch(/sagemaker-mlflow:|sagemaker:CallMlflowAppApi/);
    expect((gateway.toJSON().Outputs as Record<string, { Value: unknown }>).BackendRoleArn!.Value).toBe(ROLE);
    expect(cfnLint(s.outdir).filter((m) => m.Level === 'Error')).toEqual([]);
    expect(nagFindings(s.app).filter((f) => f.severity === 'error')).toEqual([]);
  });

  test('a role of a third account is refused (SageMaker MLflow admits only its own account\'s principals)', () => {
    expect(() => synth({ ...ALONE, mlflowArn: FOREIGN, gatewayEnv: JSON.stringify({ MLFLOW_ASSUME_ROLE_ARN: 'arn:aws:iam::123456789012:role/x' }) })).toThrow(/the role must be one of 999988887777's/);
  });
});

describe('options the review asked for', () => {
  test('9. alarms need someone to hear them: no alarmEmail and no alarmTopicArn is refused; an existing topic is used as is', () => {
    expect(() => synth({ ...ALONE, alarmEmail: '' })).toThrow(/alarmEmail: alarms need someone to hear them/);
    const topic = 'arn:aws:sns:us-east-1:123456789012:ops-pager';
    const gateway = gatewayOf(synth({ ...ALONE, alarmEmail: '', alarmTopicArn: topic }));
    gateway.resourceCountIs('AWS::SNS::Topic', 0);
    gateway.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: [topic] });
  });

  test('5. -c amiId fixes the AMI', () => {
    expect(oneOf(gatewayOf(synth({ ...ALONE, amiId: 'ami-0fedcba9876543210' })), 'AWS::EC2::LaunchTemplate').props.LaunchTemplateData.ImageId).toBe('ami-0fedcba9876543210');
  });

  test('8. -c natGateways=1 keeps one NAT gateway', () => {
    expect(resourcesOf(synth({ certificateArn: CERTIFICATE_ARN, apiKeySha256: API_KEY_SHA256, natGateways: '1' }).templates['MlflowProxy-Network']!, 'AWS::EC2::NatGateway')).toHaveLength(1);
  });
});
