// Policies of the Network stack's VPC endpoints (issue 20, item 9): a VPC endpoint without a policy
// lets any principal of any account reach any resource of its service through this VPC. Here:
//
//   SageMaker MLflow (experiments)  sagemaker-mlflow:* on the tracking servers of the trusted
//                                   accounts only, any principal (client roles included): AWS's
//                                   own example ("Create a VPC Endpoint Policy for SageMaker AI
//                                   MLflow", SageMaker developer guide)
//   every other interface endpoint  principals of the trusted accounts (aws:PrincipalAccount)
//   S3 (gateway)                    principals of the trusted accounts, and anonymous reads of the
//                                   Amazon Linux 2023 package repositories (dnf does not sign)
//
// The trusted accounts are this one and, with a backend in another account (-c mlflowArn), that
// account: its role signs the MLflow calls and assumes the client roles (backend-access.ts).
// Principals of other accounts (a client role of a third account) need -c endpointAccounts.
import * as iam from 'aws-cdk-lib/aws-iam';

export function principalAccountsPolicy(accounts: string[]): iam.PolicyStatement[] {
  return [
    new iam.PolicyStatement({
      sid: 'TrustedAccountsOnly',
      principals: [new iam.AnyPrincipal()],
      actions: ['*'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:PrincipalAccount': accounts } },
    }),
  ];
}

export function mlflowEndpointPolicy(accounts: string[], partition: string, region: string): iam.PolicyStatement[] {
  return [
    new iam.PolicyStatement({
      sid: 'TrustedTrackingServersOnly',
      principals: [new iam.AnyPrincipal()],
      actions: ['sagemaker-mlflow:*'],
      resources: accounts.map((account) => `arn:${partition}:sagemaker:${region}:${account}:mlflow-tracking-server/*`),
    }),
  ];
}

export function s3EndpointPolicy(accounts: string[], partition: string, region: string): iam.PolicyStatement[] {
  return [
    ...principalAccountsPolicy(accounts),
    new iam.PolicyStatement({
      sid: 'AmazonLinuxRepositories',
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:GetObject'],
      resources: [`arn:${partition}:s3:::al2023-repos-${region}-*/*`],
    }),
  ];
}
