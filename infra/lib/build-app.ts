// Builds the stacks into an App from its context (bin/app.ts; the tests call it with their own App).
import { Fn, type App, type Environment } from 'aws-cdk-lib';
import { readConfig, type AppConfig } from './config.ts';
import { DomainStack } from './domain-stack.ts';
import { GatewayStack } from './gateway-stack.ts';
import { MlflowStack } from './mlflow-stack.ts';
import { NetworkStack } from './network-stack.ts';
import type { NetworkPlacement } from './vpc.ts';

export interface BuiltApp {
  config: AppConfig;
  network?: NetworkStack;
  domain?: DomainStack;
  mlflow?: MlflowStack;
  gateway: GatewayStack;
}

export const STACK_PREFIX = 'MlflowProxy';

export function buildApp(app: App, env: Environment): BuiltApp {
  const config = readConfig(app.node);
  const suffix = config.mlflowMode === 'mlflow-app' ? 'App' : 'Tracking';
  const built: Partial<BuiltApp> = { config };

  // An existing VPC (-c vpcId) is looked up by each stack that uses it (Vpc.fromLookup, cached in
  // cdk.context.json by the first `cdk synth`); it needs public subnets (an internet-facing ALB) and
  // private subnets with egress (the hosts).
  let network: NetworkPlacement = { vpcId: config.vpcId ?? '' };
  let vpcCidr: string | undefined;
  if (!config.vpcId) {
    // A backend in another account signs through these endpoints with that account's role.
    const backendAccount = config.mlflowArn?.split(':')[4];
    built.network = new NetworkStack(app, `${STACK_PREFIX}-Network`, {
      env,
      natGateways: config.natGateways,
      otherAccounts: [...new Set([...(backendAccount ? [backendAccount] : []), ...config.endpointAccounts])],
      description: 'sagemaker-mlflow-proxy: VPC, NAT, VPC endpoints',
    });
    network = { vpc: built.network.vpc };
    vpcCidr = built.network.cidr;
  }
  if (config.createDomain) {
    built.domain = new DomainStack(app, `${STACK_PREFIX}-Domain`, { env, ...network, description: 'sagemaker-mlflow-proxy: SageMaker AI domain (optional)' });
  }
  let mlflowArn = config.mlflowArn;
  let artifactRoot: string | undefined;
  if (!mlflowArn) {
    built.mlflow = new MlflowStack(app, `${STACK_PREFIX}-Mlflow${suffix}`, {
      env,
      mode: config.mlflowMode,
      mlflowVersion: config.mlflowVersion,
      name: config.mlflowName,
      trackingServerSize: config.trackingServerSize,
      description: `sagemaker-mlflow-proxy: SageMaker MLflow ${config.mlflowMode} and its artifact bucket`,
    });
    mlflowArn = built.mlflow.mlflowArn;
    // Through the named export: the Gateway's policy then names the bucket by that export, which
    // is what its cdk-nag acknowledgment has to match (gateway-stack.ts).
    artifactRoot = `s3://${Fn.importValue(built.mlflow.artifactBucketExport)}/mlflow`;
  }
  built.gateway = new GatewayStack(app, `${STACK_PREFIX}-Gateway${suffix}`, { env, ...network, vpcCidr, mlflowArn, artifactRoot, config, description: 'sagemaker-mlflow-proxy: ALB, Auto Scaling gateway hosts, alarms' });
  if (built.mlflow) built.gateway.addStackDependency(built.mlflow, 'the artifact bucket export');
  return built as BuiltApp;
}
