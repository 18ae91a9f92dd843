// What the repository's tests (test/infra, run by the root's bun test) need from this package's
// dependencies: modules resolve from the importing file, and test/ cannot see infra/node_modules.
export { App } from 'aws-cdk-lib';
export { Match, Template } from 'aws-cdk-lib/assertions';
export { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
