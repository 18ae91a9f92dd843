// The infra/ CDK app, both MLflow modes, synthesized as `cdk synth` does (dummy account and
// region): what an operator and a security review rely on is in the templates, the role's MLflow
// policy is exactly what `iam-policy` prints for the same rules, cfn-lint finds no error in any
// template and cdk-nag's AwsSolutions pack no unacknowledged error.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match, type Template } from '../../infra/lib/testing.ts';
import { REPO, scratchTempDirs } from '../support/processes.ts';
import { API_KEY_SHA256, AZS, EXISTING_VPC, CERTIFICATE_ARN, cfnLint, nagFindings, removeSynthesized, resourcesOf, synth, type Synthesized } from '../support/infra.ts';

setDefaultTimeout(240_000);
afterAll(removeSynthesized);
const scratch = scratchTempDirs();

const MODES = [
  { mode: 'tracking-server', suffix: 'Tracking', backend: 'AWS::SageMaker::MlflowTrackingServer', arnAttribute: 'TrackingServerArn' },
  { mode: 'mlflow-app', suffix: 'App', backend: 'AWS::SageMaker::MlflowApp', arnAttribute: 'Arn' },
] as const;

/** `sagemaker-mlflow-proxy iam-policy --rules FILE` for a given backend ARN (and more environment). */
function iamPolicyCli(mlflowArn: string, rulesFile = 'rules.yaml', env: Record<string, string> = {}): unknown {
  const run = spawnSync(join(REPO, 'node_modules', '.bin', 'bun'), ['src/main.ts', 'iam-policy', '--rules', rulesFile], {
    cwd: REPO,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, MLFLOW_ARN: mlflowArn, PROXY_API_KEY_SHA256: API_KEY_SHA256, ...env },
  });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout);
}

/** Every occurrence of the string `from` in a JSON value replaced by the value `to`. */
function replaceValue(value: unknown, from: string, to: unknown): unknown {
  if (value === from) return to;
  if (Array.isArray(value)) return value.map((v) => replaceValue(v, from, to));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaceValue(v, from, to)]));
  return value;
}

/** Fn::ImportValue (by export name) and Fn::Join resolved as CloudFormation would. */
function resolveIntrinsics(value: unknown, importValue: (name: string) => string | undefined): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, importValue));
  if (value && typeof value === 'object') {
    const o = value as Record<string, any>;
    if (typeof o['Fn::ImportValue'] === 'string') {
      const resolved = importValue(o['Fn::ImportValue']);
      if (resolved === undefined) throw new Error(`unexpected import ${o['Fn::ImportValue']}`);
      return resolved;
    }
    if (Array.isArray(o['Fn::Join'])) return (o['Fn::Join'][1] as unknown[]).map((p) => resolveIntrinsics(p, importValue)).join(o['Fn::Join'][0]);
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, resolveIntrinsics(v, importValue)]));
  }
  return value;
}

function gatewayPolicy(template: Template): unknown {
  const policies = resourcesOf(template, 'AWS::IAM::Policy').filter((p) => p.props.PolicyName === 'sagemaker-mlflow-proxy-iam-policy');
  expect(policies).toHaveLength(1);
  return policies[0]!.props.PolicyDocument;
}

for (const { mode, suffix, backend, arnAttribute } of MODES) {
  describe(`cdk synth, ${mode} mode (Network + MLflow + Gateway)`, () => {
    let s: Synthesized;
    let network: Template;
    let mlflow: Template;
    let gateway: Template;
    beforeAll(() => {
      s = synth({ mlflowMode: mode, certificateArn: CERTIFICATE_ARN, apiKeySha256: API_KEY_SHA256 });
      network = s.templates['MlflowProxy-Network']!;
      mlflow = s.templates[`MlflowProxy-Mlflow${suffix}`]!;
      gateway = s.templates[`MlflowProxy-Gateway${suffix}`]!;
    });

    test('synthesizes the Network, MLflow and Gateway stacks (no Domain unless asked)', () => {
      expect(Object.keys(s.templates).sort()).toEqual(['MlflowProxy-Network', `MlflowProxy-Gateway${suffix}`, `MlflowProxy-Mlflow${suffix}`].sort());
    });

    test('the HTTPS listener has the ACM certificate and a TLS 1.2+ policy; there is no plain-HTTP listener', () => {
      gateway.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
        Port: 443,
        Protocol: 'HTTPS',
        Certificates: [{ CertificateArn: CERTIFICATE_ARN }],
        SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
      });
      expect(resourcesOf(gateway, 'AWS::ElasticLoadBalancingV2::Listener').map((l) => l.props.Protocol)).toEqual(['HTTPS']);
    });

    test('the target group health-checks /-/ready every 5 s and waits drainSeconds + finishSeconds + 5 s (30) on deregistration', () => {
      gateway.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
        Port: 8080,
        Protocol: 'HTTP',
        HealthCheckPath: '/-/ready',
        HealthCheckIntervalSeconds: 5,
        HealthCheckTimeoutSeconds: 2,
        HealthyThresholdCount: 2,
        UnhealthyThresholdCount: 2,
        Matcher: { HttpCode: '200' },
        TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }]),
      });
    });

    test('at least two hosts, in the private subnets of two Availability Zones, replaced by an instance refresh', () => {
      const [asg] = resourcesOf(gateway, 'AWS::AutoScaling::AutoScalingGroup');
      expect(Number(asg!.props.MinSize)).toBeGreaterThanOrEqual(2);
      expect(Number(asg!.props.MaxSize)).toBeGreaterThanOrEqual(Number(asg!.props.MinSize));
      expect(asg!.props.HealthCheckType).toBe('ELB');
      expect(asg!.resource.UpdatePolicy.AutoScalingInstanceRefresh).toEqual({
        Strategy: 'Rolling',
        Preferences: { MinHealthyPercentage: 100, MaxHealthyPercentage: 200, InstanceWarmup: 90, BakeTime: 600, AlarmSpecification: { Alarms: [expect.anything(), expect.anything()] } },
      });
      // The subnets come from the Network stack's exports: resolve them to that stack's subnets.
      const exportsOf = Object.fromEntries(Object.values(network.toJSON().Outputs as Record<string, any>).map((o) => [o.Export.Name, o.Value.Ref]));
      const subnets = (asg!.props.VPCZoneIdentifier as Array<{ 'Fn::ImportValue': string }>).map((i) => exportsOf[i['Fn::ImportValue']]);
      const subnetResources = network.findResources('AWS::EC2::Subnet');
      const placed = subnets.map((id) => subnetResources[id]!.Properties);
      expect(new Set(placed.map((p) => p.AvailabilityZone))).toEqual(new Set(AZS));
      for (const p of placed) {
        expect(p.MapPublicIpOnLaunch).toBe(false);
        expect(p.Tags).toContainEqual({ Key: 'aws-cdk:subnet-type', Value: 'Private' });
      }
    });

    test('the launch template requires IMDSv2 and encrypts the root volume', () => {
      gateway.hasResourceProperties('AWS::EC2::LaunchTemplate', {
        LaunchTemplateData: Match.objectLike({
          MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
          BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ Encrypted: true }) })],
        }),
      });
    });

    test('nothing accepts SSH: the hosts take the listener port from the ALB only, the ALB only 443', () => {
      for (const [name, template] of Object.entries(s.templates)) {
        const ingress = [
          ...resourcesOf(template, 'AWS::EC2::SecurityGroup').flatMap((g) => g.props.SecurityGroupIngress ?? []),
          ...resourcesOf(template, 'AWS::EC2::SecurityGroupIngress').map((r) => r.props),
        ];
        for (const rule of ingress) {
          const covers22 = rule.IpProtocol === '-1' || (rule.FromPort <= 22 && rule.ToPort >= 22);
          expect({ stack: name, rule, covers22 }).toEqual({ stack: name, rule, covers22: false });
        }
      }
      const hostIngress = resourcesOf(gateway, 'AWS::EC2::SecurityGroupIngress').filter((r) => JSON.stringify(r.props.GroupId).includes('HostSecurityGroup'));
      expect(hostIngress.map((r) => [r.props.FromPort, r.props.ToPort, JSON.stringify(r.props.SourceSecurityGroupId)])).toEqual([[8080, 8080, expect.stringContaining('AlbSecurityGroup')]]);
      gateway.hasResourceProperties('AWS::EC2::SecurityGroup', { GroupDescription: Match.stringLikeRegexp('^Gateway ALB'), SecurityGroupIngress: [Match.objectLike({ FromPort: 443, ToPort: 443 })] });
    });

    test('the VPC spans two AZs and has interface endpoints for SageMaker API and MLflow, STS, SSM (+ messages), Logs, Secrets Manager, and an S3 gateway endpoint', () => {
      const endpoints = resourcesOf(network, 'AWS::EC2::VPCEndpoint');
      const services = endpoints.map((e) => `${e.props.VpcEndpointType}:${JSON.stringify(e.props.ServiceName)}`);
      for (const service of ['sagemaker.api', 'experiments', 'sts', 'ssm', 'ssmmessages', 'ec2messages', 'logs', 'secretsmanager']) {
        expect(services.filter((s) => s.startsWith('Interface:') && s.includes(`.${service}"`))).toHaveLength(1);
      }
      expect(services.filter((s) => s.startsWith('Gateway:') && s.includes('.s3'))).toHaveLength(1);
      for (const e of endpoints.filter((x) => x.props.VpcEndpointType === 'Interface')) expect(e.props.PrivateDnsEnabled).toBe(true);
      expect(new Set(Object.values(network.findResources('AWS::EC2::Subnet')).map((r: any) => r.Properties.AvailabilityZone))).toEqual(new Set(AZS));
    });

    test(`the MLflow stack creates the ${mode} on an encrypted, versioned, public-access-blocked bucket that refuses plain HTTP, and exports its ARN`, () => {
      const [server] = resourcesOf(mlflow, backend);
      expect(server).toBeDefined();
      const roleId = server!.props.RoleArn['Fn::GetAtt'][0];
      const buckets = mlflow.findResources('AWS::S3::Bucket');
      const artifactId = Object.keys(buckets).find((id) => JSON.stringify(server!.props.ArtifactStoreUri).includes(id))!;
      expect(artifactId).toBeDefined();
      for (const [, bucket] of Object.entries(buckets) as Array<[string, any]>) {
        expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBeDefined();
        expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
        expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
      }
      expect(buckets[artifactId]!.Properties.LoggingConfiguration).toBeDefined();
      mlflow.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: artifactId },
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
      });
      // The server's role reaches this bucket (and is assumed by SageMaker only).
      mlflow.hasResourceProperties('AWS::IAM::Role', { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'sagemaker.amazonaws.com' } })] } });
      expect(JSON.stringify(mlflow.findResources('AWS::IAM::Policy'))).toContain(artifactId);
      expect(roleId).toMatch(/^ServerRole/);
      const outputs = mlflow.toJSON().Outputs as Record<string, any>;
      expect(outputs.MlflowArn.Value).toEqual({ 'Fn::GetAtt': [server!.id, arnAttribute] });
      expect(outputs.MlflowArn.Export.Name).toBe(`MlflowProxy-Mlflow${suffix}-MlflowArn`);
    });

    test("the instance role's MLflow policy is iam-policy's output for the same rules, the backend ARN being the MLflow stack's", () => {
      const placeholder = mode === 'mlflow-app' ? 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-app/app-0123456789ab' : 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/x';
      const policy = gatewayPolicy(gateway) as { Statement: Array<{ Resource: unknown }> };
      const imported = policy.Statement[0]!.Resource as { 'Fn::ImportValue': string };
      expect(imported['Fn::ImportValue']).toContain(`MlflowProxy-Mlflow${suffix}:`);
      expect(policy).toEqual(replaceValue(iamPolicyCli(placeholder), placeholder, imported) as any);
      // It is attached to the hosts' role, and no other policy of the stack grants a MLflow action.
      const others = [...resourcesOf(gateway, 'AWS::IAM::Policy'), ...resourcesOf(gateway, 'AWS::IAM::ManagedPolicy')].filter((p) => p.props.PolicyName !== 'sagemaker-mlflow-proxy-iam-policy');
      expect(JSON.stringify(others)).not.toMatch(/sagemaker-mlflow:|sagemaker:CallMlflowAppApi/);
    });

    test('the user data installs the release kit asset with install.sh and ships the gateway log to CloudWatch, within the 16 KB limit', () => {
      const [template] = resourcesOf(gateway, 'AWS::EC2::LaunchTemplate');
      const parts = template!.props.LaunchTemplateData.UserData['Fn::Base64']['Fn::Join'][1] as unknown[];
      const text = parts.map((p) => (typeof p === 'string' ? p : 'TOKEN')).join('');
      expect(text).toStartWith('#!/bin/bash\n');
      expect(text).toMatch(/KIT_URL='s3:\/\/cdk-hnb659fds-assets-123456789012-us-east-1\/[0-9a-f]{64}\.zip'/);
      expect(text).toContain(`KIT_SHA256=${s.built.gateway.kitSha256}\n`);
      expect(text).toContain('"$KIT/install.sh" "${install_args[@]}"');
      expect(text).toContain(`PROXY_API_KEY_SHA256=${API_KEY_SHA256}\nPROXY_API_KEY_EXPIRES=2099-12-31\nMLFLOW_ARN=TOKEN\nALB_ARN=TOKEN\nMLFLOW_ARTIFACT_ROOT=s3://TOKEN/mlflow'`);
      expect(text).toContain('amazon-cloudwatch-agent-ctl');
      expect(Buffer.byteLength(text)).toBeLessThan(16 * 1024 - 1024);
    });

    test('alarms cover 5xx, denials and latency, from the audit lines and the ALB', () => {
      gateway.hasResourceProperties('AWS::Logs::MetricFilter', { FilterPattern: '{ $.msg = "request" && $.decision = "denied" }' });
      gateway.hasResourceProperties('AWS::Logs::MetricFilter', { FilterPattern: '{ $.msg = "request" && $.status >= 500 }' });
      gateway.hasResourceProperties('AWS::Logs::MetricFilter', { MetricTransformations: [Match.objectLike({ MetricValue: '$.totalMs' })] });
      const alarms = resourcesOf(gateway, 'AWS::CloudWatch::Alarm').map((a) => a.props.MetricName);
      for (const metric of ['Gateway5xx', 'HTTPCode_Target_5XX_Count', 'HTTPCode_ELB_5XX_Count', 'DeniedRequests', 'TotalMs', 'TargetResponseTime', 'UnHealthyHostCount']) expect(alarms).toContain(metric);
    });

    test('Session Manager instead of SSH: the role has AmazonSSMManagedInstanceCore and the launch template no key pair', () => {
      gateway.hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.arrayWith([Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([':iam::aws:policy/AmazonSSMManagedInstanceCore'])] })]) });
      const [template] = resourcesOf(gateway, 'AWS::EC2::LaunchTemplate');
      expect(template!.props.LaunchTemplateData.KeyName).toBeUndefined();
    });

    test('cfn-lint finds no error in any template', () => {
      const matches = cfnLint(s.outdir);
      const errors = matches.filter((m) => m.Level === 'Error');
      const warnings = matches.filter((m) => m.Level === 'Warning');
      console.log(`cfn-lint ${mode}: ${errors.length} errors, ${warnings.length} warnings (${[...new Set(warnings.map((w) => w.Rule.Id))].join(', ')})`);
      expect(errors.map((e) => `${e.Rule.Id} ${e.Filename}: ${e.Message}`)).toEqual([]);
    });

    test("cdk-nag's AwsSolutions pack reports no unacknowledged error", () => {
      const findings = nagFindings(s.app);
      console.log(`cdk-nag ${mode}: ${findings.filter((f) => f.severity === 'error').length} errors, ${findings.filter((f) => f.severity === 'warning').length} warnings unacknowledged`);
      expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
    });

    test("cdk-nag's NIST 800-53 rev 5 pack reports nothing unacknowledged, warnings included", () => {
      const findings = nagFindings(s.app, 'NIST.800.53.R5');
      console.log(`cdk-nag NIST 800-53 r5 ${mode}: ${findings.length} unacknowledged`);
      expect(findings).toEqual([]);
    });
  });
}

describe('cdk synth, the Gateway stack alone (an existing VPC and MLflow backend)', () => {
  const ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/existing';
  let s: Synthesized;
  beforeAll(() => {
    s = synth({ vpcId: EXISTING_VPC, mlflowArn: ARN, certificateArn: CERTIFICATE_ARN, apiKeySha256: API_KEY_SHA256 });
  });

  test('only the Gateway stack is synthesized', () => {
    expect(Object.keys(s.templates)).toEqual(['MlflowProxy-GatewayTracking']);
  });

  test("the role's MLflow policy is byte for byte what iam-policy prints for this ARN", () => {
    expect(gatewayPolicy(s.templates['MlflowProxy-GatewayTracking']!)).toEqual(iamPolicyCli(ARN) as any);
  });

  test('cfn-lint and cdk-nag (AwsSolutions, NIST 800-53 rev 5) find no error', () => {
    expect(cfnLint(s.outdir).filter((m) => m.Level === 'Error')).toEqual([]);
    expect(nagFindings(s.app).filter((f) => f.severity === 'error')).toEqual([]);
    expect(nagFindings(s.app, 'NIST.800.53.R5')).toEqual([]);
  });
});

describe('cdk synth, rules that serve artifacts from the MLflow stack\'s bucket (artifacts.s3Root: ${MLFLOW_ARTIFACT_ROOT})', () => {
  const ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/x';
  const BUCKET = 'artifact-bucket';
  let s: Synthesized;
  let rules: string;
  beforeAll(() => {
    rules = join(scratch('rules'), 'rules.yaml');
    writeFileSync(rules, readFileSync(join(REPO, 'rules.yaml'), 'utf8').replace('# artifacts:\n', 'artifacts:\n  s3Root: ${MLFLOW_ARTIFACT_ROOT}\n'));
    s = synth({ certificateArn: CERTIFICATE_ARN, apiKeySha256: API_KEY_SHA256, rulesFile: rules });
  });

  test("the role's policy is iam-policy's, S3 statements included, with the bucket imported from the MLflow stack", () => {
    const policy = gatewayPolicy(s.templates['MlflowProxy-GatewayTracking']!);
    // What CloudFormation makes of the template's references, with the ARN and the bucket as the CLI got them.
    const resolved = resolveIntrinsics(policy, (name) => (name.endsWith('-ArtifactBucket') ? BUCKET : name.includes('TrackingServerArn') ? ARN : undefined));
    const cli = iamPolicyCli(ARN, rules, { MLFLOW_ARTIFACT_ROOT: `s3://${BUCKET}/mlflow` }) as { Statement: Array<{ Sid: string }> };
    expect(cli.Statement.map((st) => st.Sid)).toContain('MlflowArtifactsRead');
    expect(resolved).toEqual(cli);
  });

  test('cfn-lint and cdk-nag find no error (the object wildcard under the artifact root is acknowledged by name)', () => {
    expect(cfnLint(s.outdir).filter((m) => m.Level === 'Error')).toEqual([]);
    expect(nagFindings(s.app).filter((f) => f.severity === 'error')).toEqual([]);
    expect(nagFindings(s.app, 'NIST.800.53.R5')).toEqual([]);
  });
});
