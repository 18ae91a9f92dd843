// SageMaker AI domain (optional, -c createDomain=true), as in the reference architecture: a Studio
// domain in the same VPC, VPC-only network access, IAM sign-in, one user profile. The gateway does
// not need it; data scientists who open Studio next to the MLflow backend do.
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { acknowledge } from './nag.ts';
import type { Construct } from 'constructs';
import { resolveVpc, type NetworkPlacement } from './vpc.ts';

export type DomainStackProps = StackProps & NetworkPlacement;

export class DomainStack extends Stack {
  readonly domain: sagemaker.CfnDomain;

  constructor(scope: Construct, id: string, props: DomainStackProps) {
    super(scope, id, props);
    const vpc = resolveVpc(this, props);
    const executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSageMakerFullAccess')],
      description: 'SageMaker Studio execution role of the domain next to the MLflow backend',
    });
    acknowledge(executionRole, 'AwsSolutions-IAM4', 'Studio users run arbitrary SageMaker work; AmazonSageMakerFullAccess is the execution role AWS documents for a Studio domain (the reference architecture uses it). Narrow it per team in production.', ['Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSageMakerFullAccess']);

    const securityGroup = new ec2.SecurityGroup(this, 'StudioSecurityGroup', { vpc: vpc, description: 'SageMaker Studio apps (VPC-only domain)' });
    // Studio apps talk to each other (kernel gateway, Jupyter server) inside the group.
    securityGroup.addIngressRule(securityGroup, ec2.Port.allTcp(), 'Studio apps within the domain');

    const subnets = vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });
    this.domain = new sagemaker.CfnDomain(this, 'Domain', {
      domainName: `${Stack.of(this).stackName}-studio`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63),
      authMode: 'IAM',
      appNetworkAccessType: 'VpcOnly',
      vpcId: vpc.vpcId,
      subnetIds: subnets.subnetIds,
      defaultUserSettings: { executionRole: executionRole.roleArn, securityGroups: [securityGroup.securityGroupId] },
    });
    new sagemaker.CfnUserProfile(this, 'UserProfile', {
      domainId: this.domain.attrDomainId,
      userProfileName: 'mlflow-user',
      userSettings: { executionRole: executionRole.roleArn },
    });
    new CfnOutput(this, 'DomainId', { value: this.domain.attrDomainId });
  }
}
