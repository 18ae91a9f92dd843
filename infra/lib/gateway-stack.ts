// Gateway: the Application Load Balancer, the Auto Scaling group of gateway hosts in private
// subnets, their launch template and instance role, the audit log group and the alarms.
//
// What follows from the gateway's own files rather than being chosen here:
//   - the instance role's MLflow policy is `sagemaker-mlflow-proxy iam-policy --rules FILE`
//     (gateway-rules.ts); nothing in this file adds a MLflow or SageMaker permission;
//   - the target group's port, health-check path and deregistration delay come from the rules
//     (listen.port, endpoints.readiness, shutdown.drainSeconds + finishSeconds) and are checked
//     against the systemd unit's TimeoutStopSec; the health-check timing is README's table
//     ("Health, readiness and the drain behind an ALB");
//   - the ALB's OIDC sign-in is on exactly when the rules have `auth.alb`, whose albArn must be
//     ${ALB_ARN} (this load balancer's ARN, written to the hosts' environment file);
//   - the shared rate-limit store (-c sharedLimits=true, shared-limits.ts) exists exactly when the
//     rules have `limits.store.kind: valkey`, pointed at it (${VALKEY_ENDPOINT}, ${VALKEY_USER}, the
//     password as the systemd credential `valkey` that the user data sets up).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations, BOOTSTRAP_QUALIFIER_CONTEXT, CfnElement, CfnOutput, DefaultStackSynthesizer, Duration, RemovalPolicy, SecretValue, Stack, Token, type StackProps } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { acknowledge } from './nag.ts';
import type { Construct } from 'constructs';
import type { AppConfig } from './config.ts';
import { REPO, gatewayIamPolicy, rulesFacts, type IamPolicyDocument, type RulesFacts } from './gateway-rules.ts';
import { executableArchitecture, stageKit } from './release-kit.ts';
import { SharedLimitStore, VALKEY_PASSWORD_FILE, VALKEY_USERNAME } from './shared-limits.ts';
import { checkMtlsAgainstRules, MtlsTrustStore } from './mtls-trust-store.ts';
import { GatewayDashboard } from './dashboard.ts';
import { resolveVpc, type NetworkPlacement } from './vpc.ts';

export type GatewayStackProps = StackProps & NetworkPlacement & {
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

  constructor(scope: Construct, id: string, props: GatewayStackProps) {
    super(scope, id, props);
    const { config } = props;
    const vpc = resolveVpc(this, props);
    const region = Stack.of(this).region;
    if (Token.isUnresolved(region)) throw new Error('the Gateway stack needs a concrete region (set CDK_DEFAULT_REGION or AWS_REGION): ALB access logs and the policy placeholders depend on it');

    // ---- Load balancer (first: its ARN goes into the hosts' environment) ----
    const albSg = new ec2.SecurityGroup(this, 'AlbSecurityGroup', { vpc, description: 'Gateway ALB: clients in, the hosts out', allowAllOutbound: false });
    const listenerPort = config.certificateArn ? 443 : 80;
    albSg.addIngressRule(ec2.Peer.ipv4(config.albIngressCidr), ec2.Port.tcp(listenerPort), `clients (${config.albIngressCidr})`);
    if (config.albIngressCidr === '0.0.0.0/0') {
      acknowledge(albSg, 'AwsSolutions-EC23', 'The gateway is an HTTPS endpoint for clients anywhere by default (-c albIngressCidr=0.0.0.0/0); every request is authenticated by the gateway (and optionally the ALB\'s OIDC sign-in). Set albIngressCidr to a corporate range to close it.');
    }
    if (config.certificateArn && config.allowHttp) albSg.addIngressRule(ec2.Peer.ipv4(config.albIngressCidr), ec2.Port.tcp(80), `clients over plain HTTP (${config.albIngressCidr})`);
    if (config.oidc) albSg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'OIDC token and user-info endpoints (ALB sign-in)');

    const albLogs = new s3.Bucket(this, 'AlbAccessLogs', {
      // ALB access logs support SSE-S3 only (Elastic Load Balancing user guide, "Access logs").
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      lifecycleRules: [{ expiration: Duration.days(90), noncurrentVersionExpiration: Duration.days(7) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(albLogs, 'AwsSolutions-S1', 'The ALB access-log bucket: its own server access logs would log the log deliveries; the ALB logs already say who called.');

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'Alb', {
      vpc,
      internetFacing: config.internetFacing,
      vpcSubnets: { subnetType: config.internetFacing ? ec2.SubnetType.PUBLIC : ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroup: albSg,
      dropInvalidHeaderFields: true,
      // README: 60 s stays below the gateway's keep-alive idle timeout (backend timeout + 10 s).
      idleTimeout: Duration.seconds(60),
    });
    this.loadBalancer.logAccessLogs(albLogs, 'alb');

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
    checkMtlsAgainstRules(config.mtls, { rulesFile: config.rulesFile, rulesMode: this.facts.albMtlsMode, httpsListener: !!config.certificateArn, plainHttpListener: config.allowHttp });
    const mtls = config.mtls ? new MtlsTrustStore(this, 'Mtls', config.mtls) : undefined;
    if (this.sharedLimits) this.sharedLimits.limitUserToKeys(this.facts.limitStore!.keyPrefix);
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

    const forward = elbv2.ListenerAction.forward([targetGroup]);
    if (config.certificateArn) {
      const https = this.loadBalancer.addListener('Https', {
        port: 443,
        protocol: elbv2.ApplicationProtocol.HTTPS,
        certificates: [elbv2.ListenerCertificate.fromArn(config.certificateArn)],
        sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
        open: false,
        defaultAction: config.oidc ? this.oidcAction(config, elbv2.UnauthenticatedAction.ALLOW, forward) : forward,
        ...(mtls ? { mutualAuthentication: mtls.mutualAuthentication } : {}),
      });
      if (config.oidc) {
        // Browsers on the sign-in paths without an ALB session go to the identity provider; every
        // other request passes unauthenticated to the gateway, which asks for an API key or a JWT
        // (an MLflow client cannot follow a sign-in redirect).
        https.addAction('SignIn', {
          priority: 10,
          conditions: [elbv2.ListenerCondition.pathPatterns(config.oidc.signInPaths)],
          action: this.oidcAction(config, elbv2.UnauthenticatedAction.AUTHENTICATE, forward),
        });
      }
    }
    if (config.allowHttp) {
      Annotations.of(this).addWarning('allowHttp: the load balancer listens on plain HTTP (port 80): API keys, passwords and tokens cross the network in clear text. Use it only for a test behind a private network.');
      this.loadBalancer.addListener('Http', { port: 80, protocol: elbv2.ApplicationProtocol.HTTP, open: false, defaultAction: forward });
    }

    // ---- Instance role's policies ----
    // Exactly iam-policy's document, unmodified (no CDK statement merging or reordering), so a
    // reviewer can diff it against `sagemaker-mlflow-proxy iam-policy --rules FILE`.
    const gatewayPolicy = new iam.CfnPolicy(this, 'GatewayIamPolicy', {
      policyName: 'sagemaker-mlflow-proxy-iam-policy',
      policyDocument: this.gatewayPolicy,
      roles: [this.role.roleName],
    });
    this.acknowledgeArtifactObjects(gatewayPolicy, props.artifactRoot);

    this.logGroup = new logs.LogGroup(this, 'GatewayLogs', { retention: logs.RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.RETAIN });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'ShipGatewayLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'], resources: [this.logGroup.logGroupArn, `${this.logGroup.logGroupArn}:log-stream:*`] }),
    );
    if (config.releaseBucketName) {
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({ sid: 'ReadReleases', actions: ['s3:GetObject'], resources: [`arn:${Stack.of(this).partition}:s3:::${config.releaseBucketName}/releases/*`] }),
      );
    }

    // ---- Release kit and user data ----
    const architecture = executableArchitecture(config.releaseBinary);
    const kit = new s3assets.Asset(this, 'ReleaseKit', { path: stageKit(config.releaseBinary, config.rulesFile) });
    kit.grantRead(this.role);
    const settings = Object.entries(hostEnv).map(([key, value]) => `${key}=${value}`);
    const script = readFileSync(join(import.meta.dir, 'user-data.sh'), 'utf8').replace(/^#!.*\n/, '');
    const userData = ec2.UserData.custom(
      [
        '#!/bin/bash',
        '# Inputs of infra/lib/user-data.sh (below), written by the Gateway stack.',
        `KIT_URL=${shellQuote(kit.s3ObjectUrl)}`,
        `LOG_GROUP=${shellQuote(this.logGroup.logGroupName)}`,
        `GATEWAY_ENV=${shellQuote(settings.join('\n'))}`,
        `VALKEY_SECRET_ARN=${shellQuote(this.sharedLimits?.password.secretArn ?? '')}`,
        script,
      ].join('\n'),
    );

    // ---- Hosts ----
    const launchTemplate = new ec2.LaunchTemplate(this, 'HostTemplate', {
      machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: architecture === 'arm64' ? ec2.AmazonLinuxCpuType.ARM_64 : ec2.AmazonLinuxCpuType.X86_64 }),
      instanceType: new ec2.InstanceType(config.instanceType),
      role: this.role,
      securityGroup: hostSg,
      userData,
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      detailedMonitoring: true,
      blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(16, { volumeType: ec2.EbsDeviceVolumeType.GP3, encrypted: true }) }],
    });

    const topic = new sns.Topic(this, 'Alarms', { displayName: 'sagemaker-mlflow-proxy alarms', enforceSSL: true });
    if (config.alarmEmail) topic.addSubscription(new subscriptions.EmailSubscription(config.alarmEmail));
    acknowledge(topic, 'AwsSolutions-SNS2', 'Alarm and scaling notifications carry alarm and instance names only. CloudWatch cannot publish to a topic under the AWS-managed SNS key, and a customer key for this alone costs more than the stack\'s log bucket; add one if policy requires it.');

    this.autoScalingGroup = new autoscaling.AutoScalingGroup(this, 'Hosts', {
      vpc,
      vpcSubnets: hostSubnets,
      launchTemplate,
      minCapacity: config.minHosts,
      maxCapacity: config.maxHosts,
      healthChecks: autoscaling.HealthChecks.withAdditionalChecks({ additionalTypes: [autoscaling.AdditionalHealthCheckType.ELB], gracePeriod: Duration.minutes(5) }),
      defaultInstanceWarmup: Duration.seconds(90),
      // A changed launch template (new release kit, rules file, environment or AMI) replaces the
      // hosts one batch at a time, never dropping below the group's size; each new host must pass
      // the ALB health check (/-/ready) before the next is replaced.
      updatePolicy: autoscaling.UpdatePolicy.instanceRefresh({
        strategy: autoscaling.InstanceRefreshStrategy.ROLLING,
        minHealthyPercentage: 100,
        maxHealthyPercentage: 200,
        instanceWarmup: Duration.seconds(90),
      }),
      notifications: [{ topic }],
    });
    this.autoScalingGroup.attachToApplicationTargetGroup(targetGroup);
    this.autoScalingGroup.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60 });
    hostSg.addIngressRule(albSg, ec2.Port.tcp(this.facts.listenPort), 'the ALB (listener port only)');
    albSg.addEgressRule(hostSg, ec2.Port.tcp(this.facts.listenPort), 'the gateway hosts');

    // ---- Audit-line metrics and alarms ----
    this.alarms(targetGroup, topic);
    new GatewayDashboard(this, 'Dashboard', { logGroup: this.logGroup, loadBalancer: this.loadBalancer, targetGroup, autoScalingGroup: this.autoScalingGroup, hostRole: this.role });

    const url = `${config.certificateArn ? 'https' : 'http'}://${this.loadBalancer.loadBalancerDnsName}`;
    new CfnOutput(this, 'Url', { value: url, description: 'The gateway (point a DNS name covered by the certificate at the ALB, or use this name for a first test)' });
    new CfnOutput(this, 'AutoScalingGroupName', { value: this.autoScalingGroup.autoScalingGroupName, description: 'scripts/fleet.sh --asg NAME' });
    new CfnOutput(this, 'LogGroupName', { value: this.logGroup.logGroupName });
    new CfnOutput(this, 'HostRoleArn', { value: this.role.roleArn });
    new CfnOutput(this, 'LoadBalancerArn', { value: this.loadBalancer.loadBalancerArn, description: 'auth.alb.albArn (the hosts get it as ALB_ARN)' });

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

  private oidcAction(config: AppConfig, onUnauthenticated: elbv2.UnauthenticatedAction, next: elbv2.ListenerAction): elbv2.ListenerAction {
    const oidc = config.oidc!;
    return elbv2.ListenerAction.authenticateOidc({
      issuer: oidc.issuer,
      authorizationEndpoint: oidc.authorizationEndpoint,
      tokenEndpoint: oidc.tokenEndpoint,
      userInfoEndpoint: oidc.userInfoEndpoint,
      clientId: oidc.clientId,
      clientSecret: SecretValue.secretsManager(oidc.clientSecretName),
      scope: oidc.scope,
      onUnauthenticatedRequest: onUnauthenticated,
      next,
    });
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
    if (!shared && this.sharedLimits) throw new Error(`-c sharedLimits=true creates an ElastiCache cache for the fleet's rate limits, but ${file} has no limits.store with kind valkey: no host would use it. Add the limits.store section of infra/README.md ("Shared rate limits"), or drop -c sharedLimits`);
    if (!shared || !this.sharedLimits) return;
    const problems: string[] = [];
    if (spec.url !== `rediss://${this.sharedLimits.endpoint}`) problems.push('url must be rediss://${VALKEY_ENDPOINT} (this stack\'s cache; ElastiCache Serverless accepts only TLS)');
    if (!spec.cluster) problems.push('cluster must be true (ElastiCache Serverless speaks only the cluster protocol)');
    if (spec.username !== VALKEY_USERNAME) problems.push('username must be ${VALKEY_USER} (the cache\'s RBAC user)');
    if (spec.passwordFile !== VALKEY_PASSWORD_FILE) problems.push(`passwordFile must be \${CREDENTIALS_DIRECTORY:-${VALKEY_PASSWORD_FILE.replace(/\/valkey$/, '')}}/valkey (the credential the user data hands to the unit with LoadCredential=)`);
    if (spec.caFile !== undefined) problems.push('caFile: not needed (ElastiCache\'s certificates are from a public CA) and not installed on the hosts');
    if (problems.length) throw new Error(`${file}: limits.store does not point at the stack's shared store:\n  ${problems.join('\n  ')}`);
  }

  private alarms(targetGroup: elbv2.ApplicationTargetGroup, topic: sns.Topic): void {
    // Per stack, so two deployments (both modes) in one account do not add up.
    const namespace = `SagemakerMlflowProxy/${this.stackName}`;
    // One filter per signal over the audit lines (msg "request"; README, "Logs").
    const filter = (id: string, pattern: string, metricName: string, value: string, unit?: cloudwatch.Unit) =>
      new logs.MetricFilter(this, id, {
        logGroup: this.logGroup,
        filterPattern: logs.FilterPattern.literal(pattern),
        metricNamespace: namespace,
        metricName,
        metricValue: value,
        ...(unit ? { unit } : {}),
      }).metric();
    const denials = filter('DeniedFilter', '{ $.msg = "request" && $.decision = "denied" }', 'DeniedRequests', '1');
    const gateway5xx = filter('Gateway5xxFilter', '{ $.msg = "request" && $.status >= 500 }', 'Gateway5xx', '1');
    const latency = filter('LatencyFilter', '{ $.msg = "request" && $.totalMs >= 0 }', 'TotalMs', '$.totalMs', cloudwatch.Unit.MILLISECONDS);

    const action = new cwActions.SnsAction(topic);
    const alarm = (id: string, metric: cloudwatch.IMetric, threshold: number, periods: number, description: string) => {
      const a = new cloudwatch.Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods: periods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      a.addAlarmAction(action);
      a.addOkAction(action);
      return a;
    };
    const fiveMinutes = Duration.minutes(5);
    const lb = this.loadBalancer.metrics;
    alarm('Gateway5xxAlarm', gateway5xx.with({ statistic: 'Sum', period: fiveMinutes }), 10, 1, '≥ 10 responses with status 5xx from the gateway in 5 minutes (audit lines): backend unreachable (502), credentials (503), timeouts (504)');
    alarm('Target5xxAlarm', targetGroup.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: fiveMinutes }), 10, 1, '≥ 10 target 5xx at the ALB in 5 minutes');
    alarm('Alb5xxAlarm', lb.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period: fiveMinutes }), 10, 1, '≥ 10 ALB-generated 5xx in 5 minutes: no healthy host, or hosts refusing connections');
    alarm('DenialsAlarm', denials.with({ statistic: 'Sum', period: fiveMinutes }), 50, 1, '≥ 50 requests denied by the rules (403) in 5 minutes: a misconfigured client or someone probing');
    alarm('LatencyAlarm', latency.with({ statistic: 'p99', period: fiveMinutes }), 5000, 3, 'p99 of the gateway\'s total request time ≥ 5 s for 15 minutes (audit lines\' totalMs)');
    alarm('TargetLatencyAlarm', targetGroup.metrics.targetResponseTime({ statistic: 'p99', period: fiveMinutes }), 5, 3, 'p99 ALB target response time ≥ 5 s for 15 minutes');
    alarm('UnhealthyHostsAlarm', targetGroup.metrics.unhealthyHostCount({ period: Duration.minutes(1) }), 1, 5, 'a gateway host failing /-/ready for 5 minutes (a drain takes ~25 s; longer means a stuck or broken host)');
  }

  private suppressions(releaseBucketName: string | undefined): void {
    // CDK's bootstrap bucket for file assets (DefaultStackSynthesizer: cdk-QUALIFIER-assets-ACCOUNT-REGION).
    const qualifier = (this.node.tryGetContext(BOOTSTRAP_QUALIFIER_CONTEXT) as string | undefined) ?? DefaultStackSynthesizer.DEFAULT_QUALIFIER;
    const account = Token.isUnresolved(this.account) ? '<AWS::AccountId>' : this.account;
    const assetBucket = `cdk-${qualifier}-assets-${account}-${this.region}`;
    acknowledge(
      this.role,
      'AwsSolutions-IAM4',
      'AmazonSSMManagedInstanceCore is what Session Manager and Run Command need on the host (instead of SSH and a bastion); AWS maintains it as the SSM agent changes.',
      ['Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore'],
    );
    acknowledge(
      this.role,
      'AwsSolutions-IAM5',
      'Reading the release kit: CDK\'s Asset.grantRead gives s3:GetObject*, s3:GetBucket*, s3:List* on the bootstrap asset bucket. The log statement covers the streams of this one log group, named by instance id at boot.',
      [
        'Action::s3:GetObject*',
        'Action::s3:GetBucket*',
        'Action::s3:List*',
        `Resource::arn:<AWS::Partition>:s3:::${assetBucket}/*`,
        `Resource::<${this.getLogicalId(this.logGroup.node.defaultChild as CfnElement)}.Arn>:log-stream:*`,
      ],
    );
    if (releaseBucketName) {
      acknowledge(this.role, 'AwsSolutions-IAM5', 'scripts/fleet.sh upgrade: the hosts read any release under s3://BUCKET/releases/ (read only, that prefix only).', [`Resource::arn:<AWS::Partition>:s3:::${releaseBucketName}/releases/*`]);
    }
  }
}
