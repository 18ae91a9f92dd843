// Network: a VPC across two Availability Zones with public subnets (the ALB, the NAT gateway),
// private subnets with egress (the gateway hosts) and isolated subnets (the interface endpoints'
// network interfaces, nothing else), plus the VPC endpoints for every AWS API the hosts call, so
// those calls stay on the AWS network:
//   SageMaker API (sagemaker.api)         DescribeMlflow*, CreatePresignedMlflow*Url (UI entry)
//   SageMaker MLflow (aws.sagemaker.REGION.experiments)
//                                         the tracking servers' data plane; AWS documents this
//                                         endpoint for tracking servers ("Connecting to an MLflow
//                                         tracking server through an Interface VPC Endpoint",
//                                         SageMaker developer guide, checked 2026-12-01). For
//                                         MLflow Apps (mlflow.sagemaker.REGION.app.aws) AWS
//                                         published no VPC endpoint as of that date: the hosts
//                                         reach Apps through the NAT gateway.
//   STS                                   client roles (AssumeRole), backend.assumeRoleArn
//   SSM, SSM messages, EC2 messages       Session Manager (no SSH) and Run Command (scripts/fleet.sh)
//   CloudWatch Logs                       the CloudWatch agent shipping the audit lines
//   CloudWatch (monitoring)               the agent's own metrics
//   S3 (gateway endpoint, free)           the release asset, artifact roots, the OS package repos
// The NAT gateway remains for what has no endpoint: MLflow Apps, OIDC issuers' JWKS, the ALB's
// public-key endpoint (auth.alb), the OS package repositories outside S3.
import { Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { acknowledge } from './nag.ts';
import type { Construct } from 'constructs';

export interface NetworkStackProps extends StackProps {
  natGateways: number;
}

/** The interface endpoints the hosts need, by what they are for; the tests check each is present. */
export const INTERFACE_ENDPOINTS: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
  SageMakerApi: ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API,
  SageMakerMlflow: ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_EXPERIMENTS,
  Sts: ec2.InterfaceVpcEndpointAwsService.STS,
  Ssm: ec2.InterfaceVpcEndpointAwsService.SSM,
  SsmMessages: ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES,
  Ec2Messages: ec2.InterfaceVpcEndpointAwsService.EC2_MESSAGES,
  Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
  Monitoring: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
};

export class NetworkStack extends Stack {
  readonly vpc: ec2.Vpc;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: props.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'hosts', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: 'endpoints', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      // The default security group allows all traffic between its members; nothing uses it, so it
      // is stripped of every rule (AWS Foundational Security Best Practices EC2.2).
      restrictDefaultSecurityGroup: true,
    });

    const flowLogs = new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.ONE_MONTH });
    this.vpc.addFlowLog('FlowLog', { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: ec2.FlowLogTrafficType.REJECT });

    // One security group for all interface endpoints: HTTPS from inside the VPC only.
    const endpointSg = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', { vpc: this.vpc, description: 'VPC interface endpoints: HTTPS from the VPC', allowAllOutbound: false });
    endpointSg.addIngressRule(ec2.Peer.ipv4(this.vpc.vpcCidrBlock), ec2.Port.tcp(443), 'HTTPS from inside the VPC');
    acknowledge(endpointSg, 'AwsSolutions-EC23', 'The only ingress is HTTPS from this VPC\'s own CIDR block, a reference (Fn::GetAtt) that cdk-nag cannot evaluate and so reports as open.');
    for (const [name, service] of Object.entries(INTERFACE_ENDPOINTS)) {
      this.vpc.addInterfaceEndpoint(name, {
        service,
        subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
        securityGroups: [endpointSg],
        privateDnsEnabled: true,
        open: false,
      });
    }
    this.vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });

    acknowledge(
      this.vpc,
      'AwsSolutions-IAM4',
      'CDK\'s custom resource that empties the default security group (restrictDefaultSecurityGroup) runs as a Lambda with AWSLambdaBasicExecutionRole: its own log permissions only.',
      ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
    );
  }
}
