// `iam-policy`: the least-privilege IAM policy the gateway's signing identity needs for these rules.
// The MLflow actions are exactly the operations some identity signed with that identity can reach
// (through any policy: operation names and path rules alike); client and group roles add
// sts:AssumeRole and sts:SetSourceIdentity on those roles, and get their own policy with --role.
//
// With an `artifacts` section the artifact API is served from S3 by the gateway itself: the S3
// statements for the artifact root follow from which of ReadArtifacts / WriteArtifacts /
// DeleteArtifacts the same identities can reach (src/artifacts/iam.ts). `artifacts.discover` and
// `readiness.checkBackendStatus` both make the host call DescribeMlflowTrackingServer (or
// DescribeMlflowApp) on the ARN: one statement grants it.
//
// With a `ui` section, identities that may reach AccessUI need the presigned-URL action on the
// backend (and, for tracking servers, sagemaker-mlflow:AccessUI, which IAM scopes to `*`).
//
// Only actions IAM knows are printed (src/rules/iam-actions.ts, from AWS's Service Authorization
// Reference): an allowed operation without a published action (V3 traces, OTLP export, datasets,
// /version, get-artifact...) is named by iamPolicyNotes on stderr, never dropped silently or invented.
// The artifact API (Read/Write/DeleteArtifacts) is the gateway's own, from S3, so it is not among them.
//
// Scoped policies make the host's identity read runs, experiments, traces, logged models, datasets
// and registered models to learn whose an id is: those reads are added for it.
import type { CompiledRules, CompiledPolicy } from './rules/compile.ts';
import { artifactIamStatements } from './artifacts/iam.ts';
import type { Profile } from './auth/identity.ts';
import { operationsCoveredBy } from './rules/operations.ts';
import { iamActionFor } from './rules/iam-actions.ts';
import { LOOKUP_OPERATIONS } from './scopes/owners.ts';
import { hasScopedGrants } from './auth/policy.ts';

export interface IamStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string[]>>;
}

export interface IamPolicyDocument {
  Version: '2012-10-17';
  Statement: IamStatement[];
}

// Served by the gateway itself (src/artifacts from S3, src/ui for AccessUI), with their own statements.
const OWN_STATEMENTS = new Set(['ReadArtifacts', 'WriteArtifacts', 'DeleteArtifacts', 'AccessUI']);

/**
 * The policy for the identity that signs requests of profiles without a role of their own (the
 * host's instance role, or backend.assumeRoleArn when set), or, given roleArn, for that client role.
 */
/**
 * Why no policy is needed, when none is: a self-hosted backend (backend.url) is called unsigned, and
 * an empty Statement list is not a policy IAM accepts (it asks for at least one statement).
 */
export function noPolicyNeeded(rules: CompiledRules): string | undefined {
  if (rules.backend.kind === 'sagemaker') return undefined;
  return 'No IAM policy is needed: the backend is a self-hosted MLflow (backend.url), which the gateway calls without signing.';
}

export function iamPolicy(rules: CompiledRules, roleArn?: string): IamPolicyDocument {
  const reachable = reachableBy(rules, roleArn);
  const actions = [...new Set(reachable.filter((op) => !OWN_STATEMENTS.has(op)).flatMap((op) => iamActionFor(op) ?? []))].sort();
  const statements = mlflowStatements(rules, actions);
  if (rules.ui && reachable.includes('AccessUI')) statements.push(...uiStatements(rules));
  const artifacts = rules.artifacts;
  if (artifacts && rules.backend.kind === 'sagemaker') {
    const access = { read: reachable.includes('ReadArtifacts'), write: reachable.includes('WriteArtifacts'), delete: reachable.includes('DeleteArtifacts') };
    // A discovered root is known only at start-up: iamPolicyNotes says what to add by hand.
    if (artifacts.root) statements.push(...artifactIamStatements(artifacts, access, partitionOf(rules.backend.arn)));
  }
  // The gateway's own Describe call, one statement whatever asks it: artifact-root discovery at
  // start-up and the readiness status check. Always the host's identity, never a client role.
  const describes = rules.artifacts?.discover === true || rules.source.readiness.checkBackendStatus;
  if (describes && roleArn === undefined && rules.backend.kind === 'sagemaker') {
    const action = rules.backend.mode === 'mlflow-app' ? 'sagemaker:DescribeMlflowApp' : 'sagemaker:DescribeMlflowTrackingServer';
    statements.push({ Sid: 'DescribeMlflowBackend', Effect: 'Allow', Action: [action], Resource: rules.backend.arn });
  }
  if (roleArn === undefined) {
    const roles = clientRoles(rules);
    if (roles.length) {
      statements.push({ Sid: 'AssumeClientRoles', Effect: 'Allow', Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Resource: roles });
    }
  }
  return { Version: '2012-10-17', Statement: statements };
}

/** What the printed policy cannot say by itself, for the operator (stderr). */
export function iamPolicyNotes(rules: CompiledRules, roleArn?: string): string[] {
  const notes: string[] = [];
  const unpublished = reachableBy(rules, roleArn).filter((op) => !OWN_STATEMENTS.has(op) && !iamActionFor(op));
  if (rules.backend.kind === 'sagemaker' && rules.backend.mode === 'tracking-server' && unpublished.length) {
    notes.push(`No sagemaker-mlflow IAM action is published for ${unpublished.length} allowed operation(s), so none is listed (AWS Service Authorization Reference); whether SageMaker serves them to this role is up to SageMaker: ${unpublished.join(', ')}`);
  }
  if (rules.artifacts && !rules.artifacts.root) {
    notes.push('artifacts.discover: the S3 artifact root is found at start-up, so its s3:* statements are not included; set artifacts.s3Root to get them, or add them for the ArtifactStoreUri by hand.');
  }
  return notes;
}

/** Every role a client or group names (each gets its own policy with --role). */
export function clientRoles(rules: CompiledRules): string[] {
  return [...new Set(signingProfiles(rules).flatMap((p) => (p.assumeRoleArn ? [p.assumeRoleArn] : [])))].sort();
}

function signingProfiles(rules: CompiledRules): Profile[] {
  return [...rules.clientsById.values(), ...rules.auth.groups.values(), ...(rules.auth.anonymous ? [rules.auth.anonymous] : [])];
}

function reachableBy(rules: CompiledRules, roleArn: string | undefined): string[] {
  const profiles = signingProfiles(rules).filter((profile) => profile.assumeRoleArn === roleArn);
  const reachable = reachableOperations(profiles.flatMap((p) => p.policies));
  // Scoped policies make the gateway look ids up itself, always as the host (scopes/owners.ts).
  if (roleArn !== undefined || !hasScopedGrants(rules.policies.values())) return reachable;
  return [...new Set([...reachable, ...LOOKUP_OPERATIONS])].sort();
}

function reachableOperations(policies: ReadonlyArray<CompiledPolicy>): string[] {
  const operations = new Set<string>();
  for (const policy of policies) {
    for (const operation of policy.operations.keys()) operations.add(operation);
    for (const grant of policy.grants) for (const operation of operationsCoveredBy(grant.methods, grant.pattern)) operations.add(operation);
  }
  return [...operations].sort();
}

/** `aws`, `aws-cn`, `aws-us-gov`: the S3 ARNs live in the same partition as the MLflow server. */
function partitionOf(arn: string): string {
  return arn.split(':')[1] ?? 'aws';
}

function mlflowStatements(rules: CompiledRules, operations: string[]): IamStatement[] {
  const backend = rules.backend;
  if (backend.kind !== 'sagemaker' || operations.length === 0) return [];
  if (backend.mode === 'mlflow-app') {
    // MLflow Apps have a single action: IAM cannot tell readers from writers there, the rules do.
    return [{ Sid: 'CallMlflowApp', Effect: 'Allow', Action: ['sagemaker:CallMlflowAppApi'], Resource: backend.arn }];
  }
  return [{ Sid: 'MlflowTrackingServer', Effect: 'Allow', Action: operations.map((op) => `sagemaker-mlflow:${op}`), Resource: backend.arn }];
}

/** Minting the UI sign-in link (src/ui/presigned-url.ts), and for tracking servers the UI itself. */
function uiStatements(rules: CompiledRules): IamStatement[] {
  const backend = rules.backend;
  if (backend.kind !== 'sagemaker') return [];
  if (backend.mode === 'mlflow-app') {
    return [{ Sid: 'OpenMlflowAppUi', Effect: 'Allow', Action: ['sagemaker:CreatePresignedMlflowAppUrl'], Resource: backend.arn }];
  }
  return [
    { Sid: 'OpenMlflowUi', Effect: 'Allow', Action: ['sagemaker:CreatePresignedMlflowTrackingServerUrl'], Resource: backend.arn },
    { Sid: 'AccessMlflowUi', Effect: 'Allow', Action: ['sagemaker-mlflow:AccessUI'], Resource: '*' },
  ];
}
