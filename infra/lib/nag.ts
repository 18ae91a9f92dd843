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
