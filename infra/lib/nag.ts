// cdk-nag (v3) acknowledgments: every rule this app accepts is acknowledged on the construct it
// concerns, with the reason, here in the code; nothing is acknowledged app- or stack-wide. A finding
// of a rule that reports findings (AwsSolutions-IAM5's actions and resources) is acknowledged one
// by one, so a new wildcard is a new, unacknowledged error.
import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

export function acknowledge(scope: IConstruct, rule: string, reason: string, findings?: string[]): void {
  if (!findings) {
    Validations.of(scope).acknowledge({ id: rule, reason });
    return;
  }
  for (const finding of findings) Validations.of(scope).acknowledge({ id: `${rule}[${finding}]`, reason });
}

/** NIST 800-53 rev 5 IAMNoInlinePolicy, for this app's inline policies (each bound to one role of this stack). */
export const INLINE_POLICY_REASON =
  'An inline policy written by this stack for this one role: it cannot be attached to another principal, and it changes only through this stack\'s deploys (CloudFormation keeps each version in the stack history). For the gateway\'s MLflow policy, being exactly `iam-policy`\'s output for the deployed rules is the review.';

/** NIST 800-53 rev 5 CloudWatchLogGroupEncrypted, for this app's log groups. */
export const LOG_ENCRYPTION_REASON =
  'CloudWatch Logs encrypts every log group at rest (AWS-owned keys); who may read the group is decided by IAM (logs:GetLogEvents, FilterLogEvents). A customer KMS key would add a key policy and ≈ $1 a month per key, and lose Logs Insights for principals without kms:Decrypt; no secret is written to these groups (the gateway logs none, WAF logs have the credential headers redacted).';
