// Which identity signs the MLflow calls, and what the hosts' role needs for it (issue 20, item 7).
//
// SageMaker MLflow tracking servers and Apps have no resource-based policy: only a principal of
// the backend's own account can be allowed to call one. A backend in another account is reached
// by assuming a role of that account (backend.assumeRoleArn; MLFLOW_ASSUME_ROLE_ARN in the shipped
// rules), and then:
//   - the hosts' role may sts:AssumeRole that one role, and holds no MLflow permission itself;
//   - `iam-policy` prints the policy for that role (the gateway signs everything with it, client
//     roles included), which the backend account's administrator attaches to it, with a trust
//     policy that names the hosts' role (the HostRoleArn output).
// A foreign backend without a role is refused at synth: every call would be denied.
import { Token } from 'aws-cdk-lib';

export type BackendAccess =
  /** The hosts' role signs: iam-policy's document is attached to it. */
  | { kind: 'host-role' }
  /** The hosts assume this role and sign with it: iam-policy's document is that role's. */
  | { kind: 'assumed-role'; roleArn: string };

const accountOf = (arn: string) => arn.split(':')[4];

export function backendAccess(mlflowArn: string, stackAccount: string, assumeRoleArn: string | undefined, file: string): BackendAccess {
  const backendAccount = Token.isUnresolved(mlflowArn) ? stackAccount : accountOf(mlflowArn);
  if (assumeRoleArn) {
    const roleAccount = accountOf(assumeRoleArn);
    if (!Token.isUnresolved(backendAccount) && roleAccount !== backendAccount) {
      throw new Error(`${file}: backend.assumeRoleArn ${assumeRoleArn} is in account ${roleAccount}, the MLflow backend in ${backendAccount}: SageMaker MLflow allows only principals of its own account, so the role must be one of ${backendAccount}'s`);
    }
    return { kind: 'assumed-role', roleArn: assumeRoleArn };
  }
  if (!Token.isUnresolved(backendAccount) && !Token.isUnresolved(stackAccount) && backendAccount !== stackAccount) {
    throw new Error(
      `mlflowArn ${mlflowArn} is in account ${backendAccount}, the stack in ${stackAccount}: SageMaker MLflow has no resource policy, so the hosts' own role can never be allowed to call it. ` +
        `Create a role in ${backendAccount} with the policy \`sagemaker-mlflow-proxy iam-policy --rules FILE\` prints (with MLFLOW_ASSUME_ROLE_ARN set) and a trust policy naming the stack's HostRoleArn output, then deploy with -c gatewayEnv='{"MLFLOW_ASSUME_ROLE_ARN":"arn:aws:iam::${backendAccount}:role/NAME"}' (docs/deploy-aws.md, "Another account's MLflow")`,
    );
  }
  return { kind: 'host-role' };
}
