// Network: a VPC across two Availability Zones with public subnets (the NAT gateways, an
// internet-facing ALB if asked for), private subnets with egress (the gateway hosts, an internal
// ALB) and isolated subnets (the interface endpoints' network interfaces, nothing else), plus the
// VPC endpoints for every AWS API the hosts call, so those calls stay on the AWS network and do
// not depend on a NAT gateway's AZ:
//   SageMaker API (sagemaker.api)         DescribeMlflow*, CreatePresignedMlflow*Url (UI entry)
//   SageMaker MLflow (aws.sagemaker.REGION.experiments)
//                                         the tracking servers' data plane; AWS documents this
//                                         endpoint for tracking servers ("Connecting to an MLflow
//                                         tracking server through an Interface VPC Endpoint",
//                                         SageMaker developer guide, checked 2026-12-01). For
//                                         MLflow Apps (mlflow.sagemaker.REGION.app.aws) AWS
//                                         published no VPC endpoint as of that date: the hosts
//                                         reach Apps through the NAT gateways.
//   STS                                   client roles (AssumeRole), backend.assumeRoleArn
//   SSM, SSM messages, EC2 messages       Session Manager (no SSH) and Run Command (scripts/fleet.sh)
//   CloudWatch Logs                       the CloudWatch agent shipping the gateway's and the boot's lines
//   Secrets Manager                       the shared rate-limit store's password (-c sharedLimits=true)
//   S3 (gateway endpoint, free)           the release kit, artifact roots, the OS package repos
// No CloudWatch (monitoring) endpoint: the alarms come from log metric filters and the ALB, and the
// one metric the hosts publish, the CloudWatch agent's mem_used_percent for the dashboard
// (dashboard.ts), once a minute, is not worth an endpoint's ≈ $15 a month nor needed to serve. What
// goes through the NAT gateways: MLflow Apps, OIDC issuers' JWKS, the ALB's public-key endpoint
// (auth.alb), cfn-signal at the first deploy, that memory metric (and the agent's DescribeTags
// for its Auto Scaling group's name). There
// is one NAT gateway per AZ by default (-c natGateways=1 saves one, at the price of every host
// losing those when its AZ does: docs/deploy-aws.md). Each endpoint has a policy (endpoint-policies.ts).
import { Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { mlflowEndpointPolicy, principalAccountsPolicy, s3EndpointPolicy } from './endpoint-policies.ts';
import { acknowledge, INLINE_POLICY_REASON, LOG_ENCRYPTION_REASON } from './nag.ts';

export interface NetworkStackProps extends StackProps {
  natGateways: number;
  /** Accounts besides this one whose principals may use the endpoints (a backend's, -c endpointAccounts). */
  otherAccounts: string[];
}

/** The VPC's IPv4 range, a literal so that security-group rules naming it can be checked (cdk-nag, reviewers). */
export const VPC_CIDR = '10.0.0.0/16';

/** The interface endpoints the hosts need, by what they are for; the tests check each is present. */
export const INTERFACE_ENDPOINTS: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
  SageMakerApi: ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API,
  SageMakerMlflow: ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_EXPERIMENTS,
  Sts: ec2.InterfaceVpcEndpointAwsService.STS,
  Ssm: ec2.InterfaceVpcEndpointAwsService.SSM,
  SsmMessages: ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES,
  Ec2Messages: ec2.InterfaceVpcEndpointAwsService.EC2_MESSAGES,
  Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
  SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
};

export class NetworkStack extends Stack {
  readonly vpc: ec2.Vpc;
  readonly cidr = VPC_CIDR;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(VPC_CIDR),
      maxAzs: 2,
      natGateways: props.natGateways,
      subnetConfiguration: [
        // No public address for what is launched here: the NAT gateways have Elastic IPs, an
        // internet-facing ALB its own addresses; nothing else belongs in these subnets.
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'hosts', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: 'endpoints', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      // The default security group allows all traffic between its members; nothing uses it, so it
      // is stripped of every rule (AWS Foundational Security Best Practices EC2.2).
      restrictDefaultSecurityGroup: true,
    });

    const flowLogs = new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.ONE_MONTH });
    acknowledge(flowLogs, 'NIST.800.53.R5-CloudWatchLogGroupEncrypted', LOG_ENCRYPTION_REASON);
    const flowLog = this.vpc.addFlowLog('FlowLog', { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: ec2.FlowLogTrafficType.REJECT });
    acknowledge(flowLog.node.findChild('IAMRole').node.findChild('DefaultPolicy'), 'NIST.800.53.R5-IAMNoInlinePolicy', INLINE_POLICY_REASON);

    const accounts = [this.account, ...props.otherAccounts.filter((a) => a !== this.account)];
    // One security group for all interface endpoints: HTTPS from inside the VPC only.
    const endpointSg = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', { vpc: this.vpc, description: 'VPC interface endpoints: HTTPS from the VPC', allowAllOutbound: false });
    endpointSg.addIngressRule(ec2.Peer.ipv4(VPC_CIDR), ec2.Port.tcp(443), 'HTTPS from inside the VPC');
    for (const [name, service] of Object.entries(INTERFACE_ENDPOINTS)) {
      const endpoint = this.vpc.addInterfaceEndpoint(name, {
        service,
        subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
        securityGroups: [endpointSg],
        privateDnsEnabled: true,
        open: false,
      });
      const statements = name === 'SageMakerMlflow' ? mlflowEndpointPolicy(accounts, this.partition, this.region) : principalAccountsPolicy(accounts);
      for (const statement of statements) endpoint.addToPolicy(statement);
    }
    const s3 = this.vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    for (const statement of s3EndpointPolicy(accounts, this.partition, this.region)) s3.addToPolicy(statement);

    acknowledge(
      this.vpc,
      'AwsSolutions-IAM4',
      'CDK\'s custom resource that empties the default security group (restrictDefaultSecurityGroup) runs as a Lambda with AWSLambdaBasicExecutionRole: its own log permissions only.',
      ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
    );
    for (const subnet of this.vpc.publicSubnets) {
      acknowledge(subnet, 'NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW', 'The public subnets exist for the NAT gateways (and an internet-facing ALB, if asked for): their route to the internet gateway is what they are for. The hosts and the endpoints are in subnets without one.');
    }
  }
}
