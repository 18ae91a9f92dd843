// The CDK app: `npx cdk deploy --all` from infra/ (docs/deploy-aws.md). Which stacks exist follows from
// the context: no Network stack with -c vpcId (an existing VPC), no MLflow stack with -c mlflowArn
// (an existing backend), a SageMaker domain only with -c createDomain=true. Stack names carry the
// MLflow mode, so a tracking-server and an MLflow App deployment can live side by side; the
// Network and Domain stacks are shared.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import { buildApp } from '../lib/build-app.ts';

const app = new App();
buildApp(app, {
  account: process.env.CDK_DEFAULT_ACCOUNT,
  region: process.env.CDK_DEFAULT_REGION ?? process.env.AWS_REGION,
});
// cdk-nag's AwsSolutions and NIST 800-53 rev 5 packs run at every synth; an unacknowledged error
// stops it (lib/nag.ts: each acknowledgment is on its construct, with its reason).
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }), new NIST80053R5Checks(app, { verbose: true }));
app.synth();
