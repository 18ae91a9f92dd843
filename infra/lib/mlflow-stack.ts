// MLflow backend: a SageMaker managed MLflow tracking server or a serverless MLflow App
// (-c mlflowMode=tracking-server | mlflow-app), its artifact bucket and the role SageMaker uses to
// reach that bucket. The ARN is exported (CfnOutput with an export name) for the Gateway stack and
// for anyone else's.
//
// MLflow's data outlives the stack (issue 20, item 2): the tracking server (or App), whose database
// holds every experiment, run and registered model, is retained when the stack is deleted and when
// an update would replace it (DeletionPolicy and UpdateReplacePolicy Retain), and so are the role
// and policy it reaches its artifacts with and the artifact bucket itself. Its name comes from the
// stack's (-c mlflowName overrides it, e.g. to keep the fixed name of a stack deployed before).
import { CfnElement, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { acknowledge, INLINE_POLICY_REASON } from './nag.ts';
import type { Construct } from 'constructs';
import type { MlflowMode } from './config.ts';

export interface MlflowStackProps extends StackProps {
  mode: MlflowMode;
  /** The tracking server's or App's name; default: the stack's name. */
  name?: string | undefined;
  /** Tracking servers only; omitted: SageMaker's default version. */
  mlflowVersion?: string | undefined;
  trackingServerSize?: string;
}

/** Days a replaced or deleted artifact stays recoverable (the bucket is versioned). */
export const NONCURRENT_ARTIFACT_DAYS = 90;

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
      lifecycleRules: [{ expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
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
      // Versioning keeps what MLflow overwrites or deletes, for a while (item 9): a deleted run's
      // artifacts can be brought back for 90 days; uploads a client abandoned go after a week.
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(NONCURRENT_ARTIFACT_DAYS), abortIncompleteMultipartUploadAfter: Duration.days(7) }],
    });
    for (const bucket of [accessLogs, this.artifactBucket]) {
      acknowledge(bucket, 'NIST.800.53.R5-S3BucketReplicationEnabled', 'Versioned, retained when the stack is deleted, noncurrent versions kept 90 days (artifacts) or 30 (logs); a copy in a second region is a disaster-recovery decision for the account (and doubles the storage bill), not a default of this stack.');
      acknowledge(bucket, 'NIST.800.53.R5-S3DefaultEncryptionKMS', 'SSE-S3 (AES-256, S3-managed keys). A KMS key would need kms:Decrypt and GenerateDataKey for the SageMaker service role, the gateway hosts (artifacts.s3Root) and every client that reads artifacts directly, and a key policy to match; use a bucket of your own under a KMS key if policy requires one (the gateway serves any s3Root its role may read).');
    }
    const artifactRoot = `s3://${this.artifactBucket.bucketName}/mlflow`;
    this.artifactRoot = artifactRoot;

    const name = (props.name ?? this.stackName).replace(/[^A-Za-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 256);
    const backendArn = `arn:${this.partition}:sagemaker:${this.region}:${this.account}:${props.mode === 'mlflow-app' ? 'mlflow-app/*' : `mlflow-tracking-server/${name}`}`;

    // The role SageMaker assumes to read and write the artifact store (SageMaker developer guide,
    // "Set up IAM permissions for MLflow": the service role needs the bucket and nothing else here).
    // Its trust names this account and this backend (item 9, "Cross-service confused deputy
    // prevention", SageMaker developer guide). ...IfExists: that page does not list MLflow among
    // the features that send the keys (checked 2026-12-01), so they are enforced when SageMaker
    // sends them, and a deploy does not break if it does not.
    const serverRole = new iam.Role(this, 'ServerRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com', {
        conditions: {
          StringEqualsIfExists: { 'aws:SourceAccount': this.account },
          ArnLikeIfExists: { 'aws:SourceArn': backendArn },
        },
      }),
      description: `SageMaker MLflow ${props.mode}: read and write its artifact bucket`,
    });
    // Retained with the backend it serves: a retained tracking server without its role could no
    // longer reach its artifacts.
    serverRole.applyRemovalPolicy(RemovalPolicy.RETAIN);
    this.artifactBucket.grantReadWrite(serverRole);
    acknowledge(
      serverRole,
      'AwsSolutions-IAM5',
      'grantReadWrite on the artifact bucket: object-level actions on every object of this one bucket, which MLflow writes under experiment and run ids it makes up.',
      ['Action::s3:GetObject*', 'Action::s3:GetBucket*', 'Action::s3:List*', 'Action::s3:DeleteObject*', 'Action::s3:Abort*', `Resource::<${this.getLogicalId(this.artifactBucket.node.defaultChild as CfnElement)}.Arn>/*`],
    );

    // SageMaker checks at creation that the role can reach the artifact store: its policy first.
    const serverPolicy = serverRole.node.findChild('DefaultPolicy') as iam.Policy;
    serverPolicy.applyRemovalPolicy(RemovalPolicy.RETAIN);
    acknowledge(serverPolicy, 'NIST.800.53.R5-IAMNoInlinePolicy', INLINE_POLICY_REASON);
    if (props.mode === 'mlflow-app') {
      const app = new sagemaker.CfnMlflowApp(this, 'MlflowApp', {
        name,
        artifactStoreUri: artifactRoot,
        roleArn: serverRole.roleArn,
      });
      app.node.addDependency(serverPolicy);
      app.applyRemovalPolicy(RemovalPolicy.RETAIN);
      this.mlflowArn = app.attrArn;
    } else {
      const server = new sagemaker.CfnMlflowTrackingServer(this, 'TrackingServer', {
        trackingServerName: name,
        artifactStoreUri: artifactRoot,
        roleArn: serverRole.roleArn,
        trackingServerSize: props.trackingServerSize ?? 'Small',
        ...(props.mlflowVersion ? { mlflowVersion: props.mlflowVersion } : {}),
      });
      server.node.addDependency(serverPolicy);
      server.applyRemovalPolicy(RemovalPolicy.RETAIN);
      this.mlflowArn = server.attrTrackingServerArn;
    }

    new CfnOutput(this, 'MlflowArn', { value: this.mlflowArn, exportName: `${this.stackName}-MlflowArn`, description: `The ${props.mode} ARN (MLFLOW_ARN on the gateway hosts)` });
    this.artifactBucketExport = `${this.stackName}-ArtifactBucket`;
    new CfnOutput(this, 'ArtifactBucketName', { value: this.artifactBucket.bucketName, exportName: this.artifactBucketExport });
    new CfnOutput(this, 'ArtifactRoot', { value: artifactRoot, description: 'The artifact store URI (artifacts.s3Root in rules.yaml, if the gateway serves artifacts)' });
  }
}
