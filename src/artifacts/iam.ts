// The S3 permissions the gateway's role needs to serve the artifact API, scoped to the artifact
// root, for `iam-policy`: reading needs GetObject and a prefix-limited ListBucket, writing needs
// PutObject (which also covers CreateMultipartUpload, UploadPart and CompleteMultipartUpload) plus
// AbortMultipartUpload and ListMultipartUploadParts, deleting needs DeleteObject and the listing that
// finds what is under a path (AWS: "Actions, resources, and condition keys for Amazon S3").
// A bucket encrypted with a customer-managed KMS key also needs kms:Decrypt / kms:GenerateDataKey
// on that key; the key is not known here, so it is left to the operator (README).
import type { ArtifactSettings } from './config.ts';

export interface IamStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string[]>>;
}

export interface ArtifactAccess {
  read: boolean;
  write: boolean;
  delete: boolean;
}

export function artifactIamStatements(settings: Pick<ArtifactSettings, 'root'>, access: ArtifactAccess, partition = 'aws'): IamStatement[] {
  const root = settings.root;
  if (!root) throw new Error('artifacts.s3Root must be set to write the S3 statements (a discovered root is only known at run time)');
  const bucketArn = `arn:${partition}:s3:::${root.bucket}`;
  const objectsArn = root.prefix ? `${bucketArn}/${root.prefix}/*` : `${bucketArn}/*`;
  const statements: IamStatement[] = [];
  if (access.read || access.delete) {
    statements.push({
      Sid: 'MlflowArtifactsList',
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: [bucketArn],
      ...(root.prefix ? { Condition: { StringLike: { 's3:prefix': [root.prefix, `${root.prefix}/*`] } } } : {}),
    });
  }
  if (access.read) statements.push({ Sid: 'MlflowArtifactsRead', Effect: 'Allow', Action: ['s3:GetObject'], Resource: [objectsArn] });
  if (access.write) {
    statements.push({
      Sid: 'MlflowArtifactsWrite',
      Effect: 'Allow',
      Action: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
      Resource: [objectsArn],
    });
  }
  if (access.delete) statements.push({ Sid: 'MlflowArtifactsDelete', Effect: 'Allow', Action: ['s3:DeleteObject'], Resource: [objectsArn] });
  return statements;
}
