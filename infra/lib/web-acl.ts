// The AWS WAF web ACL in front of the gateway's ALB (issue 20, item 1): what the gateway cannot do
// itself because it sees a request only once it is admitted — drop addresses AWS knows as
// malicious, known exploit payloads and floods from one address — before any sign-in is tried.
//
//   AWSManagedRulesAmazonIpReputationList   addresses Amazon threat intelligence lists
//   AWSManagedRulesKnownBadInputsRuleSet     Log4j / Java deserialization payloads, localhost Host
//   AWSManagedRulesCommonRuleSet             the OWASP-style core set, its body and size rules in
//                                            count mode (below)
//   rate-based rule                          more than N requests from one address in 5 minutes
//
// Counted, not blocked, in the core set: the size rules (an MLflow log-batch, a logged model or an
// artifact upload is larger than SizeRestrictions_BODY's 8 KB; the gateway enforces its own
// limits.maxBodyBytes and maxPathLength and answers in MLflow's error shape) and the rules that
// look for scripts, file paths and URLs inside bodies (MLflow parameters and tags hold paths and
// URLs, artifacts hold arbitrary bytes: false positives would break clients with a bare 403).
// Counted requests are logged, so what they would have blocked stays visible.
// AWS WAF developer guide, "Core rule set (CRS) managed rule group" and "Rate-based rule
// statement"; "Logging web ACL traffic" for the log group name (aws-waf-logs-) and the filter.
//
// Logging: only requests a rule blocked or counted (an allowed request is in the gateway's own
// audit line already), with the credentials' headers redacted: WAF logs every header it sees.
import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

/** Core rule set rules counted instead of blocked (see the file's header). */
export const COUNTED_CORE_RULES = [
  'SizeRestrictions_BODY',
  'SizeRestrictions_URIPATH',
  'SizeRestrictions_QUERYSTRING',
  'GenericLFI_BODY',
  'GenericRFI_BODY',
  'CrossSiteScripting_BODY',
  'EC2MetaDataSSRF_BODY',
] as const;

/** Headers that carry credentials to the gateway: never written to the WAF log. */
export const REDACTED_HEADERS = ['authorization', 'x-api-key', 'cookie', 'x-amzn-oidc-data', 'x-amzn-oidc-accesstoken'] as const;

export interface GatewayWebAclProps {
  /** Requests from one client address within 5 minutes before the rate-based rule blocks it. */
  ratePerFiveMinutes: number;
}

export class GatewayWebAcl extends Construct {
  readonly webAcl: wafv2.CfnWebACL;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: GatewayWebAclProps) {
    super(scope, id);
    const stackName = Stack.of(this).stackName;
    const visibility = (metricName: string) => ({ cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName });
    const managed = (priority: number, name: string, counted: readonly string[] = []): wafv2.CfnWebACL.RuleProperty => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: {
        managedRuleGroupStatement: {
          vendorName: 'AWS',
          name,
          ...(counted.length ? { ruleActionOverrides: counted.map((rule) => ({ name: rule, actionToUse: { count: {} } })) } : {}),
        },
      },
      visibilityConfig: visibility(name),
    });

    this.webAcl = new wafv2.CfnWebACL(this, 'Acl', {
      scope: 'REGIONAL',
      description: 'sagemaker-mlflow-proxy: managed rule groups and a per-address rate limit in front of the gateway ALB',
      defaultAction: { allow: {} },
      visibilityConfig: visibility(`${stackName}-web-acl`),
      rules: [
        managed(0, 'AWSManagedRulesAmazonIpReputationList'),
        {
          name: 'PerAddressRateLimit',
          priority: 1,
          action: { block: {} },
          statement: { rateBasedStatement: { limit: props.ratePerFiveMinutes, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
          visibilityConfig: visibility('PerAddressRateLimit'),
        },
        managed(2, 'AWSManagedRulesKnownBadInputsRuleSet'),
        managed(3, 'AWSManagedRulesCommonRuleSet', COUNTED_CORE_RULES),
      ],
    });

    // WAF writes to CloudWatch Logs only into groups named aws-waf-logs-*.
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `aws-waf-logs-${stackName}`,
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const logging = new wafv2.CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: this.webAcl.attrArn,
      // The group's ARN without the trailing :* that LogGroup.logGroupArn has (WAF refuses it).
      logDestinationConfigs: [Stack.of(this).formatArn({ service: 'logs', resource: 'log-group', resourceName: this.logGroup.logGroupName, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
      redactedFields: REDACTED_HEADERS.map((name) => ({ singleHeader: { Name: name } })),
      loggingFilter: {
        DefaultBehavior: 'DROP',
        Filters: [{ Behavior: 'KEEP', Requirement: 'MEETS_ANY', Conditions: [{ ActionCondition: { Action: 'BLOCK' } }, { ActionCondition: { Action: 'COUNT' } }] }],
      },
    });
    logging.node.addDependency(this.logGroup);
  }
}
