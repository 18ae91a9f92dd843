// Gateway: the Application Load Balancer (load-balancer.ts) behind its web ACL (web-acl.ts), the
// Auto Scaling group of gateway hosts in private subnets (rollout.ts: how it changes), their launch
// template and instance role, the audit log group, the alarms (gateway-alarms.ts) and the
// dashboard (dashboard.ts).
//
// What follows from the gateway's own files rather than being chosen here:
//   - the rules the hosts run pass `check --strict` with the hosts' environment, or synth stops
//     (-c allowRuleWarnings=true deploys them with each warning a synth warning);
//   - the instance role's MLflow policy is `sagemaker-mlflow-proxy iam-policy --rules FILE`
//     (gateway-rules.ts); nothing in this file adds a MLflow or SageMaker permission (with
//     backend.assumeRoleArn the policy is that role's, backend-access.ts);
//   - the ALB's idle timeout sits between the rules' backend.timeoutSeconds and the gateway's
//     keep-alive idle timeout (load-balancer.ts);
//   - the target group's port, health-check path and deregistration delay come from the rules
//     (listen.port, endpoints.readiness, shutdown.drainSeconds + finishSeconds) and are checked
//     against the systemd unit's TimeoutStopSec; the health-check timing is README's table
//     ("Health, readiness and the drain behind an ALB");
//   - the ALB's OIDC sign-in is on exactly when the rules have `auth.alb`, whose albArn must be
//     ${ALB_ARN} (this load balancer's ARN, written to the hosts' environment file);
//   - the HTTPS listener's mutual TLS (-c mtls, mtls-trust-store.ts) is on exactly when the rules
//     have `auth.albMtls`, in the same mode, and never beside a listener that forwards plain HTTP;
//   - the shared rate-limit store (-c sharedLimits=true, shared-limits.ts) exists exactly when the
//     rules have `limits.store.kind: valkey`, pointed at it (${VALKEY_ENDPOINT}, ${VALKEY_USER}, the
//     password as the systemd credential `valkey` that the user data sets up).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations, Aws, CfnElement, CfnOutput, Duration, Lazy, RemovalPolicy, Stack, Token, type StackProps } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import type { Construct } from 'constructs';
import { backendAccess } from './backend-access.ts';
import type { AppConfig } from './config.ts';
import { gatewayAlarms, type GatewayAlarms } from './gateway-alarms.ts';
import { REPO, gatewayIamPolicy, rulesFacts, type IamPolicyDocument, type RulesFacts } from './gateway-rules.ts';
import { addListeners, albIdleTimeoutSeconds, createLoadBalancer, plainHttpForwards } from './load-balancer.ts';
import { acknowledge, INLINE_POLICY_REASON, LOG_ENCRYPTION_REASON } from './nag.ts';
import { executableArchitecture, kitArchive } from './release-kit.ts';
import { hostImage, rolloutSettings } from './rollout.ts';
import { SharedLimitStore, VALKEY_PASSWORD_FILE, VALKEY_USERNAME } from './shared-limits.ts';
import { checkMtlsAgainstRules, MtlsTrustStore } from './mtls-trust-store.ts';
import { GatewayDashboard } from './dashboard.ts';
import { resolveVpc, type NetworkPlacement } from './vpc.ts';
import { GatewayWebAcl } from './web-acl.ts';

export type GatewayStackProps = StackProps & NetworkPlacement & {
  /** The VPC's IPv4 range as a literal (the Network stack's), for the internal ALB's ingress; default: the VPC's own attribute. */
  vpcCidr?: string | undefined;
  /** The tracking server or MLflow App ARN: a literal (-c mlflowArn) or the MLflow stack's token. */
  mlflowArn: string;
  /** The MLflow stack's artifact store URI, for rules that serve artifacts (artifacts.s3Root: ${MLFLOW_ARTIFACT_ROOT}). */
  artifactRoot?: string | undefined;
  config: AppConfig;
};

/** README's target-group table: out of rotation within 2 × 5 s + 2 s of SIGTERM. */
export const HEALTH_CHECK = { intervalSeconds: 5, timeoutSeconds: 2, healthyThreshold: 2, unhealthyThreshold: 2 } as const;
/** Margin above drainSeconds + finishSeconds, so the ALB never cuts a request the gateway still finishes (README: 30 s for 15 + 10). */
export const DEREGISTRATION_MARGIN_SECONDS = 5;

/** The unit's TimeoutStopSec in seconds (systemd/sagemaker-mlflow-proxy.service). */
export function unitStopTimeoutSeconds(unitText: string): number {
  const match = /^TimeoutStopSec=(\d+)(s?)\s*$/m.exec(unitText);
  if (!match) throw new Error('systemd unit: no TimeoutStopSec=Ns line to check the drain against');
  return Number(match[1]);
}

const shellQuote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

export class GatewayStack extends Stack {
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  readonly role: iam.Role;
  readonly gatewayPolicy: IamPolicyDocument;
  readonly facts: RulesFacts;
  readonly logGroup: logs.LogGroup;
  /** The fleet's shared rate-limit store, with -c sharedLimits=true. */
  readonly sharedLimits: SharedLimitStore | undefined;
  /** This stack's web ACL (unless -c webAclArn names another, or -c waf=false). */
  readonly webAcl: GatewayWebAcl | undefined;
  /** The release kit's SHA-256, written into the user data. */
  readonly kitSha256: string;
  readonly alarms: GatewayAlarms;

  constructor(scope: Construct, id: string, props: GatewayStackProps) {
    super(scope, id, props);
    const { config } = props;
    const vpc = resolveVpc(this, props);
    const vpcCidr = props.vpcCidr ?? vpc.vpcCidrBlock;
    const region = Stack.of(this).region;
    if (Token.isUnresolved(region)) throw new Error('the Gateway stack needs a concrete region (set CDK_DEFAULT_REGION or AWS_REGION): ALB access logs and the policy placeholders depend on it');

    // ---- Load balancer (first: its ARN goes into the hosts' environment) and its web ACL ----
    const { loadBalancer, securityGroup: albSg } = createLoadBalancer(this, vpc, vpcCidr, config);
    this.loadBalancer = loadBalancer;
    this.webAcl = this.protect(loadBalancer, config);

    // ---- The hosts' network identity and role (the shared store admits the one, gives its password to the other) ----
    const hostSg = new ec2.SecurityGroup(this, 'HostSecurityGroup', { vpc, description: 'Gateway hosts: the ALB in (listener port only; no SSH), HTTPS out', allowAllOutbound: false });
    hostSg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS: SageMaker, STS, SSM, CloudWatch, S3 (endpoints or NAT), identity providers');
    this.role = new iam.Role(this, 'HostRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'sagemaker-mlflow-proxy hosts: the gateway\'s signing identity (policy from iam-policy), Session Manager, log shipping',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    const hostSubnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    this.sharedLimits = config.sharedLimits ? new SharedLimitStore(this, 'SharedLimits', { vpc, subnets: hostSubnets, hostSecurityGroup: hostSg, hostRole: this.role }) : undefined;

    // ---- What the rules say, read by the gateway's own code with the hosts' environment ----
    const hostEnv: Record<string, string> = {
      PORT: '8080',
      TRUST_FORWARDED_FOR: 'true',
      ...config.gatewayEnv,
      MLFLOW_ARN: props.mlflowArn,
      ALB_ARN: this.loadBalancer.loadBalancerArn,
      ...(props.artifactRoot ? { MLFLOW_ARTIFACT_ROOT: props.artifactRoot } : {}),
      ...(this.sharedLimits ? { VALKEY_ENDPOINT: this.sharedLimits.endpoint, VALKEY_USER: VALKEY_USERNAME } : {}),
    };
    this.facts = this.readRules(config, hostEnv, region);
    this.checkRulesAgainstStack(config, this.facts);
    this.checkLimitStore(config, this.facts);
    this.checkWarnings(config, this.facts);
    checkMtlsAgainstRules(config.mtls, { rulesFile: config.rulesFile, rulesMode: this.facts.albMtlsMode, httpsListener: !!config.certificateArn, plainHttpForwards: plainHttpForwards(config) });
    const mtls = config.mtls ? new MtlsTrustStore(this, 'Mtls', config.mtls) : undefined;
    if (this.sharedLimits) this.sharedLimits.limitUserToKeys(this.facts.limitStore!.keyPrefix);
    const access = backendAccess(props.mlflowArn, this.account, this.facts.backendAssumeRoleArn, config.rulesFile);
    const computed = gatewayIamPolicy(config.rulesFile, hostEnv, config.mlflowMode, region);
    this.gatewayPolicy = computed.policy;
    for (const note of computed.notes) Annotations.of(this).addWarning(`iam-policy: ${note}`);
    if (this.gatewayPolicy.Statement.length === 0) throw new Error(`${config.rulesFile}: iam-policy grants nothing (no client can reach any MLflow operation): IAM refuses an empty policy`);

    const drainTotal = this.facts.drainSeconds + this.facts.finishSeconds;
    const stopTimeout = unitStopTimeoutSeconds(readFileSync(join(REPO, 'systemd', 'sagemaker-mlflow-proxy.service'), 'utf8'));
    if (stopTimeout <= drainTotal) throw new Error(`rules shutdown.drainSeconds + finishSeconds (${drainTotal} s) is not below the unit's TimeoutStopSec (${stopTimeout} s): systemd would kill the gateway mid-drain`);
    const outOfRotation = HEALTH_CHECK.intervalSeconds * HEALTH_CHECK.unhealthyThreshold + HEALTH_CHECK.timeoutSeconds;
    if (this.facts.drainSeconds < outOfRotation) {
      Annotations.of(this).addWarning(`shutdown.drainSeconds (${this.facts.drainSeconds}) is below the ${outOfRotation} s the ALB takes to see a draining host: requests may reach a host that has stopped accepting`);
    }
    this.loadBalancer.setAttribute('idle_timeout.timeout_seconds', String(albIdleTimeoutSeconds(this.facts, config.rulesFile)));

    // ---- Target group and listeners ----
    const targetGroup = new elbv2.ApplicationTargetGroup(this, 'Targets', {
      vpc,
      port: this.facts.listenPort,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.INSTANCE,
      deregistrationDelay: Duration.seconds(drainTotal + DEREGISTRATION_MARGIN_SECONDS),
      healthCheck: {
        path: this.facts.readinessPath,
        healthyHttpCodes: '200',
        interval: Duration.seconds(HEALTH_CHECK.intervalSeconds),
        timeout: Duration.seconds(HEALTH_CHECK.timeoutSeconds),
        healthyThresholdCount: HEALTH_CHECK.healthyThreshold,
        unhealthyThresholdCount: HEALTH_CHECK.unhealthyThreshold,
      },
    });
    addListeners(this, this.loadBalancer, config, targetGroup, mtls);

    // ---- Instance role's policies ----
    // Exactly iam-policy's document, unmodified (no CDK statement merging or reordering), so a
    // reviewer can diff it against `sagemaker-mlflow-proxy iam-policy --rules FILE`. With a role
    // to assume for the backend (another account's MLflow), the document is that role's, and the
    // hosts' role may only assume it (backend-access.ts).
    if (access.kind === 'host-role') {
      const gatewayPolicy = new iam.CfnPolicy(this, 'GatewayIamPolicy', {
        policyName: 'sagemaker-mlflow-proxy-iam-policy',
        policyDocument: this.gatewayPolicy,
        roles: [this.role.roleName],
      });
      this.acknowledgeArtifactObjects(gatewayPolicy, props.artifactRoot);
      acknowledge(gatewayPolicy, 'NIST.800.53.R5-IAMNoInlinePolicy', INLINE_POLICY_REASON);
    } else {
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'AssumeBackendRole', actions: ['sts:AssumeRole'], resources: [access.roleArn] }));
      new CfnOutput(this, 'BackendRoleArn', { value: access.roleArn, description: 'backend.assumeRoleArn: give it the policy `iam-policy --rules FILE` prints, and trust HostRoleArn' });
      Annotations.of(this).addInfo(`backend.assumeRoleArn ${access.roleArn}: the hosts sign every MLflow call as that role. Attach to it the policy \`sagemaker-mlflow-proxy iam-policy --rules ${config.rulesFile}\` prints (with MLFLOW_ASSUME_ROLE_ARN set), and let it trust the HostRoleArn output`);
    }

    this.logGroup = new logs.LogGroup(this, 'GatewayLogs', { retention: logs.RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.RETAIN });
    acknowledge(this.logGroup, 'NIST.800.53.R5-CloudWatchLogGroupEncrypted', LOG_ENCRYPTION_REASON);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'ShipGatewayLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'], resources: [this.logGroup.logGroupArn, `${this.logGroup.logGroupArn}:log-stream:*`] }),
    );
    // AmazonSSMManagedInstanceCore allows ssm:GetParameter(s) on every parameter of the account
    // (SecureStrings under the AWS-managed key included); neither agent on the host needs them:
    // the CloudWatch agent reads its configuration from a file, the AMI is fixed at synth.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'DenyParameterStore', effect: iam.Effect.DENY, actions: ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParametersByPath'], resources: ['*'] }),
    );
    if (config.releaseBucketName) {
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({ sid: 'ReadReleases', actions: ['s3:GetObject'], resources: [`arn:${Stack.of(this).partition}:s3:::${config.releaseBucketName}/releases/*`] }),
      );
    }
    acknowledge(this.role.node.findChild('DefaultPolicy'), 'NIST.800.53.R5-IAMNoInlinePolicy', INLINE_POLICY_REASON);

    // ---- Release kit (its object only, its SHA-256 checked on the host) and user data ----
    const architecture = executableArchitecture(config.releaseBinary);
    const archive = kitArchive(config.releaseBinary, config.rulesFile);
    this.kitSha256 = archive.sha256;
    const kit = new s3assets.Asset(this, 'ReleaseKit', { path: archive.file });
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ReadReleaseKit', actions: ['s3:GetObject'], resources: [kit.bucket.arnForObjects(kit.s3ObjectKey)] }));
    const settings = Object.entries(hostEnv).map(([key, value]) => `${key}=${value}`);
    const script = readFileSync(join(import.meta.dir, 'user-data.sh'), 'utf8').replace(/^#!.*\n/, '');
    let hostsLogicalId: string | undefined;
    const userData = ec2.UserData.custom(
      [
        '#!/bin/bash',
        '# Inputs of infra/lib/user-data.sh (below), written by the Gateway stack.',
        `KIT_URL=${shellQuote(kit.s3ObjectUrl)}`,
        `KIT_SHA256=${archive.sha256}`,
        `LOG_GROUP=${shellQuote(this.logGroup.logGroupName)}`,
        `GATEWAY_ENV=${shellQuote(settings.join('\n'))}`,
        `VALKEY_SECRET_ARN=${shellQuote(this.sharedLimits?.password.secretArn ?? '')}`,
        `SIGNAL_STACK=${shellQuote(Aws.STACK_NAME)}`,
        `SIGNAL_RESOURCE=${Lazy.string({ produce: () => hostsLogicalId })}`,
        `SIGNAL_REGION=${region}`,
        script,
      ].join('\n'),
    );

    // ---- Hosts ----
    const launchTemplate = new ec2.LaunchTemplate(this, 'HostTemplate', {
      machineImage: hostImage(config.amiId, architecture),
      instanceType: new ec2.InstanceType(config.instanceType),
      role: this.role,
      securityGroup: hostSg,
      userData,
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      detailedMonitoring: true,
      blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(16, { volumeType: ec2.EbsDeviceVolumeType.GP3, encrypted: true }) }],
    });

    const topic = this.alarmTopic(config);
    this.alarms = gatewayAlarms(this, { logGroup: this.logGroup, loadBalancer: this.loadBalancer, targetGroup, topic, minHosts: config.minHosts, sharedStore: !!this.sharedLimits });

    this.autoScalingGroup = new autoscaling.AutoScalingGroup(this, 'Hosts', {
      vpc,
      vpcSubnets: hostSubnets,
      launchTemplate,
      minCapacity: config.minHosts,
      maxCapacity: config.maxHosts,
      healthChecks: autoscaling.HealthChecks.withAdditionalChecks({ additionalTypes: [autoscaling.AdditionalHealthCheckType.ELB], gracePeriod: Duration.minutes(5) }),
      // A changed launch template (new release kit, rules file, environment or AMI) replaces the
      // hosts one at a time and stops itself when they do not come up (rollout.ts).
      ...rolloutSettings(this.alarms.refresh),
      notifications: [{ topic }],
    });
    hostsLogicalId = this.getLogicalId(this.autoScalingGroup.node.defaultChild as CfnElement);
    Annotations.of(this.autoScalingGroup).acknowledgeWarning(
      '@aws-cdk/aws-autoscaling:signalsNotUsedByInstanceRefresh',
      'Meant so (rollout.ts): the creation policy waits for the signals on the first deploy only; later deploys are instance refreshes stopped by alarms (BootFailures from the same failure the signal reports, ALB 5xx).',
    );
    this.autoScalingGroup.attachToApplicationTargetGroup(targetGroup);
    this.autoScalingGroup.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60 });
    hostSg.addIngressRule(albSg, ec2.Port.tcp(this.facts.listenPort), 'the ALB (listener port only)');
    albSg.addEgressRule(hostSg, ec2.Port.tcp(this.facts.listenPort), 'the gateway hosts');

    new GatewayDashboard(this, 'Dashboard', { logGroup: this.logGroup, loadBalancer: this.loadBalancer, targetGroup, autoScalingGroup: this.autoScalingGroup, hostRole: this.role });

    const url = `${config.certificateArn ? 'https' : 'http'}://${this.loadBalancer.loadBalancerDnsName}`;
    new CfnOutput(this, 'Url', { value: url, description: 'The gateway (point a DNS name covered by the certificate at the ALB, or use this name for a first test)' });
    new CfnOutput(this, 'AutoScalingGroupName', { value: this.autoScalingGroup.autoScalingGroupName, description: 'scripts/fleet.sh --asg NAME' });
    new CfnOutput(this, 'LogGroupName', { value: this.logGroup.logGroupName });
    new CfnOutput(this, 'HostRoleArn', { value: this.role.roleArn });
    new CfnOutput(this, 'LoadBalancerArn', { value: this.loadBalancer.loadBalancerArn, description: 'auth.alb.albArn (the hosts get it as ALB_ARN)' });
    new CfnOutput(this, 'ReleaseKitSha256', { value: archive.sha256, description: 'SHA-256 of the release kit the hosts install (they refuse any other)' });

    this.suppressions(config.releaseBucketName);
  }

  /**
   * iam-policy grants object actions on everything under artifacts.s3Root (MLflow names the
   * objects by experiment and run ids): cdk-nag's IAM5 reports each such `/*` resource. Each is
   * acknowledged by name, as cdk-nag renders it (an imported bucket name as its export's name).
   */
  private acknowledgeArtifactObjects(policy: iam.CfnPolicy, artifactRoot: string | undefined): void {
    const rendered = (value: string) => {
      if (!artifactRoot || !Token.isUnresolved(artifactRoot)) return value;
      const bucketToken = /^s3:\/\/(.*)\/mlflow$/.exec(artifactRoot)?.[1];
      const exportName = Stack.of(this).resolve(bucketToken)?.['Fn::ImportValue'] as string | undefined;
      return bucketToken && exportName ? value.split(bucketToken).join(exportName) : value;
    };
    for (const statement of this.gatewayPolicy.Statement) {
      if (!statement.Sid?.startsWith('MlflowArtifacts')) continue;
      for (const resource of ([] as string[]).concat(statement.Resource)) {
        if (!resource.endsWith('/*')) continue;
        acknowledge(policy, 'AwsSolutions-IAM5', 'iam-policy grants the object actions the rules allow on every object under artifacts.s3Root: MLflow names those objects by experiment and run ids.', [`Resource::${rendered(resource)}`]);
      }
    }
  }

  /** The web ACL in front of the load balancer: this stack's, an existing one, or none (with a warning). */
  private protect(loadBalancer: elbv2.ApplicationLoadBalancer, config: AppConfig): GatewayWebAcl | undefined {
    if (config.waf.kind === 'none') {
      Annotations.of(this).addWarning('waf=false: no web ACL in front of the load balancer (no managed rule groups, no per-address rate limit before sign-in)');
      acknowledge(loadBalancer, 'NIST.800.53.R5-ALBWAFEnabled', 'Turned off by the operator (-c waf=false), which synth warns about.');
      return undefined;
    }
    const own = config.waf.kind === 'own' ? new GatewayWebAcl(this, 'WebAcl', { ratePerFiveMinutes: config.waf.ratePerFiveMinutes }) : undefined;
    if (own) acknowledge(own.logGroup, 'NIST.800.53.R5-CloudWatchLogGroupEncrypted', LOG_ENCRYPTION_REASON);
    new wafv2.CfnWebACLAssociation(this, 'WebAclAssociation', {
      resourceArn: loadBalancer.loadBalancerArn,
      webAclArn: config.waf.kind === 'existing' ? config.waf.webAclArn : own!.webAcl.attrArn,
    });
    return own;
  }

  /** The stack's topic with the operator's addresses subscribed, or the operator's topic. */
  private alarmTopic(config: AppConfig): sns.ITopic {
    if (config.alarmTopicArn) return sns.Topic.fromTopicArn(this, 'ExistingAlarms', config.alarmTopicArn);
    const topic = new sns.Topic(this, 'Alarms', { displayName: 'sagemaker-mlflow-proxy alarms', enforceSSL: true });
    for (const address of config.alarmEmails) topic.addSubscription(new subscriptions.EmailSubscription(address));
    const reason = 'Alarm and scaling notifications carry alarm and instance names only. CloudWatch cannot publish to a topic under the AWS-managed SNS key, so encryption would need a customer key whose policy admits CloudWatch and Auto Scaling; use -c alarmTopicArn for a topic under such a key if policy requires it.';
    acknowledge(topic, 'AwsSolutions-SNS2', reason);
    acknowledge(topic, 'NIST.800.53.R5-SNSEncryptedKMS', reason);
    return topic;
  }

  /** `check`'s warnings on the rules the hosts would run: refused unless -c allowRuleWarnings=true. */
  private checkWarnings(config: AppConfig, facts: RulesFacts): void {
    if (!facts.warnings.length) return;
    if (config.allowRuleWarnings) {
      for (const warning of facts.warnings) Annotations.of(this).addWarning(`rules: ${warning}`);
      return;
    }
    const hints = facts.warnings.some((w) => /never expires/.test(w)) ? '\nThe key expiry is -c apiKeyExpires=YYYY-MM-DD (PROXY_API_KEY_EXPIRES on the hosts).' : '';
    throw new Error(
      `${config.rulesFile} does not pass \`check --strict\` with the hosts' environment (${facts.warnings.length} warning(s)):\n  ${facts.warnings.join('\n  ')}${hints}\n` +
        'Fix them, or deploy them knowingly with -c allowRuleWarnings=true (each then a synth warning).',
    );
  }

  /** Refuses combinations where the hosts would reject what the ALB sends, or the other way round. */
  private checkRulesAgainstStack(config: AppConfig, facts: RulesFacts): void {
    const file = config.rulesFile;
    if (facts.backendKind !== 'sagemaker') throw new Error(`${file}: the rules name a self-hosted backend (backend.url); the stack deploys a SageMaker one (backend.arn: \${MLFLOW_ARN})`);
    if (config.oidc && !facts.albAuth) throw new Error(`-c oidc turns on the ALB's OIDC sign-in, but ${file} has no auth.alb: the gateway would refuse every request carrying x-amzn-oidc-data (401). Add auth.alb with albArn: \${ALB_ARN}`);
    if (!config.oidc && facts.albAuth) throw new Error(`${file} has auth.alb, but the stack has no OIDC sign-in (-c oidc='{...}'): no request would ever carry x-amzn-oidc-data`);
    if (facts.albAuth && facts.albArn !== this.loadBalancer.loadBalancerArn) throw new Error(`${file}: auth.alb.albArn must be \${ALB_ARN} (this load balancer, which the hosts get in their environment), not ${facts.albArn}`);
    if (config.oidc && !config.certificateArn) throw new Error('-c oidc needs the HTTPS listener (-c certificateArn=...): the ALB authenticates on HTTPS listeners only');
    if (!facts.trustForwardedFor) Annotations.of(this).addWarning(`${file}: listen.trustForwardedFor is off, so every client's address is the ALB's (rate limits, failed sign-in limits and audit lines see one client)`);
  }

  /** rulesFacts, with a hint when the rules want the shared store's variables and the stack has no store. */
  private readRules(config: AppConfig, hostEnv: Record<string, string>, region: string): RulesFacts {
    try {
      return rulesFacts(config.rulesFile, hostEnv, config.mlflowMode, region);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (this.sharedLimits || !/environment variable VALKEY_(ENDPOINT|USER) is not set/.test(message)) throw error;
      throw new Error(`${message}The hosts get VALKEY_ENDPOINT and VALKEY_USER only with the stack's shared store: deploy with -c sharedLimits=true, or set limits.store.kind: local`);
    }
  }

  /**
   * The shared store and limits.store agree: -c sharedLimits=true exactly when the rules say
   * kind valkey, and then the rules point at this stack's cache the way the hosts are set up
   * (each mismatch would leave a fleet counting per host, or hosts that cannot start).
   */
  private checkLimitStore(config: AppConfig, facts: RulesFacts): void {
    const file = config.rulesFile;
    const spec = facts.limitStore;
    const shared = spec?.kind === 'valkey';
    if (shared && !this.sharedLimits) throw new Error(`${file} has limits.store.kind valkey, but the stack creates no shared store: deploy with -c sharedLimits=true (an ElastiCache Serverless cache for the fleet), or set limits.store.kind: local`);
    if (!shared && this.sharedLimits) throw new Error(`-c sharedLimits=true creates an ElastiCache cache for the fleet's rate limits, but ${file} has no limits.store with kind valkey: no host would use it. Add the limits.store section of docs/deploy-aws.md ("Shared rate limits"), or drop -c sharedLimits`);
    if (!shared || !this.sharedLimits) return;
    const problems: string[] = [];
    if (spec.url !== `rediss://${this.sharedLimits.endpoint}`) problems.push('url must be rediss://${VALKEY_ENDPOINT} (this stack\'s cache; ElastiCache Serverless accepts only TLS)');
    if (!spec.cluster) problems.push('cluster must be true (ElastiCache Serverless speaks only the cluster protocol)');
    if (spec.username !== VALKEY_USERNAME) problems.push('username must be ${VALKEY_USER} (the cache\'s RBAC user)');
    if (spec.passwordFile !== VALKEY_PASSWORD_FILE) problems.push(`passwordFile must be \${CREDENTIALS_DIRECTORY:-${VALKEY_PASSWORD_FILE.replace(/\/valkey$/, '')}}/valkey (the credential the user data hands to the unit with LoadCredential=)`);
    if (spec.caFile !== undefined) problems.push('caFile: not needed (ElastiCache\'s certificates are from a public CA) and not installed on the hosts');
    if (problems.length) throw new Error(`${file}: limits.store does not point at the stack's shared store:\n  ${problems.join('\n  ')}`);
  }

  private suppressions(releaseBucketName: string | undefined): void {
    acknowledge(
      this.role,
      'AwsSolutions-IAM4',
      'AmazonSSMManagedInstanceCore is what Session Manager and Run Command need on the host (instead of SSH and a bastion); AWS maintains it as the SSM agent changes. Its ssm:GetParameter and GetParameters on every parameter are taken back by the role\'s explicit deny (DenyParameterStore): the hosts cannot read the account\'s parameters.',
      ['Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore'],
    );
    acknowledge(
      this.role,
      'AwsSolutions-IAM5',
      'The CloudWatch agent writes the streams of this one log group, named by instance id at boot (INSTANCE_ID and INSTANCE_ID/user-data).',
      [`Resource::<${this.getLogicalId(this.logGroup.node.defaultChild as CfnElement)}.Arn>:log-stream:*`],
    );
    if (releaseBucketName) {
      acknowledge(this.role, 'AwsSolutions-IAM5', 'scripts/fleet.sh upgrade: the hosts read any release under s3://BUCKET/releases/ (read only, that prefix only; fleet-host.sh refuses an executable whose SHA-256 is not the one given).', [`Resource::arn:<AWS::Partition>:s3:::${releaseBucketName}/releases/*`]);
    }
  }
}
