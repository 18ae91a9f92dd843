// MLflow backend: a SageMaker managed MLflow tracking server or a serverless MLflow App
// (-c mlflowMode=tracking-server | mlflow-app), its artifact bucket and the role SageMaker uses to
// reach that bucket. The ARN is exported (CfnOutput with an export name) for the Gateway stack and
// for anyone else's.
import { CfnElement, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { acknowledge } from './nag.ts';
import type { Construct } from 'constructs';
import type { MlflowMode } from './config.ts';

export interface MlflowStackProps extends StackProps {
  mode: MlflowMode;
  /** Tracking servers only; omitted: SageMaker's default version. */
  mlflowVersion?: string | undefined;
  trackingServerSize?: string;
}

export class MlflowStack extends Stack {
  /** The tracking server's or the MLflow App's ARN (a token: known after deployment). */
  readonly mlflowArn: string;
  readonly artifactBucket: s3.Bucket;
  /** s3://BUCKET/mlflow: the backend's ArtifactStoreUri. */
  readonly artifactRoot: string;
  /** The export holding the artifact bucket's name (named, so other stacks' cdk-nag findings can name it). */
  readonly artifactBucketExport: string;

  constructor(scope: Construct, id: string, props: MlflowStackProps) {
    super(scope, id, props);

    // Server access logs of the artifact bucket (who read or wrote which run's artifacts).
    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(accessLogs, 'AwsSolutions-S1', 'This is the access-log bucket itself: logging it into itself would loop, and S3 allows no other target here.');

    this.artifactBucket = new s3.Bucket(this, 'Artifacts', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'artifacts/',
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Experiments are records: a stack deletion must not take them along.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const artifactRoot = `s3://${this.artifactBucket.bucketName}/mlflow`;
    this.artifactRoot = artifactRoot;

    // The role SageMaker assumes to read and write the artifact store (SageMaker developer guide,
    // "Set up IAM permissions for MLflow": the service role needs the bucket and nothing else here).
    const serverRole = new iam.Role(this, 'ServerRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: `SageMaker MLflow ${props.mode}: read and write its artifact bucket`,
    });
    this.artifactBucket.grantReadWrite(serverRole);
    acknowledge(
      serverRole,
      'AwsSolutions-IAM5',
      'grantReadWrite on the artifact bucket: object-level actions on every object of this one bucket, which MLflow writes under experiment and run ids it makes up.',
      ['Action::s3:GetObject*', 'Action::s3:GetBucket*', 'Action::s3:List*', 'Action::s3:DeleteObject*', 'Action::s3:Abort*', `Resource::<${this.getLogicalId(this.artifactBucket.node.defaultChild as CfnElement)}.Arn>/*`],
    );

    // SageMaker checks at creation that the role can reach the artifact store: its policy first.
    const serverPolicy = serverRole.node.findChild('DefaultPolicy');
    if (props.mode === 'mlflow-app') {
      const app = new sagemaker.CfnMlflowApp(this, 'MlflowApp', {
        name: 'mlflow-proxy-app',
        artifactStoreUri: artifactRoot,
        roleArn: serverRole.roleArn,
      });
      app.node.addDependency(serverPolicy);
      this.mlflowArn = app.attrArn;
    } else {
      const server = new sagemaker.CfnMlflowTrackingServer(this, 'TrackingServer', {
        trackingServerName: 'mlflow-proxy-tracking',
        artifactStoreUri: artifactRoot,
        roleArn: serverRole.roleArn,
        trackingServerSize: props.trackingServerSize ?? 'Small',
        ...(props.mlflowVersion ? { mlflowVersion: props.mlflowVersion } : {}),
      });
      server.node.addDependency(serverPolicy);
      this.mlflowArn = server.attrTrackingServerArn;
    }

    new CfnOutput(this, 'MlflowArn', { value: this.mlflowArn, exportName: `${this.stackName}-MlflowArn`, description: `The ${props.mode} ARN (MLFLOW_ARN on the gateway hosts)` });
    this.artifactBucketExport = `${this.stackName}-ArtifactBucket`;
    new CfnOutput(this, 'ArtifactBucketName', { value: this.artifactBucket.bucketName, exportName: this.artifactBucketExport });
    new CfnOutput(this, 'ArtifactRoot', { value: artifactRoot, description: 'The artifact store URI (artifacts.s3Root in rules.yaml, if the gateway serves artifacts)' });
  }
}
