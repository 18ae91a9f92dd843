// The Gateway stack's metric filters and alarms, each to the alarm topic (OK and ALARM). Created
// under the stack with the construct ids they always had, so a deployed stack keeps them.
//
// From the gateway's log group (one JSON line per request, msg "request"; operational lines; the
// user data's own lines, README "Logs"): 5xx answered by the gateway, denials, latency, 401 bursts
// (a guessed or leaked key being tried, or a client whose key expired), the shared rate-limit store
// failing open, and hosts that failed to boot. From the ALB: target and ALB-generated 5xx, target
// latency, unhealthy hosts and fewer healthy hosts than the group's minimum.
//
// Two of them also stop an instance refresh (rollout.ts): a host that failed to boot and the ALB
// answering 5xx itself (no healthy host, or hosts refusing connections), the failures a bad
// release or rules file causes. Failures of the backend (gateway 5xx, target 5xx) are left out:
// a deploy must not be refused because SageMaker is having a bad day.
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';

export interface GatewayAlarmsProps {
  logGroup: logs.ILogGroup;
  loadBalancer: elbv2.ApplicationLoadBalancer;
  targetGroup: elbv2.ApplicationTargetGroup;
  topic: sns.ITopic;
  /** The Auto Scaling group's minimum: fewer healthy hosts than this is an alarm. */
  minHosts: number;
  /** The rules have a shared rate-limit store (limits.store.kind valkey): alarm when it fails open. */
  sharedStore: boolean;
}

export interface GatewayAlarms {
  /** What stops an instance refresh (rollout.ts). */
  refresh: cloudwatch.Alarm[];
  all: cloudwatch.Alarm[];
}

/** The user data's failure line (infra/lib/user-data.sh): `user-data: BOOT_FAILED while STEP (exit N): ...`. */
export const BOOT_FAILED_PATTERN = '[tag = "user-data:", event = "BOOT_FAILED", ...]';

/** The audit-line metrics' namespace: per stack, so two deployments (both modes) in one account do not add up. The dashboard reads it too. */
export function auditMetricNamespace(stack: Stack): string {
  return `SagemakerMlflowProxy/${stack.stackName}`;
}

export function gatewayAlarms(stack: Stack, props: GatewayAlarmsProps): GatewayAlarms {
  const namespace = auditMetricNamespace(stack);
  const filter = (id: string, pattern: string, metricName: string, value: string, unit?: cloudwatch.Unit) =>
    new logs.MetricFilter(stack, id, {
      logGroup: props.logGroup,
      filterPattern: logs.FilterPattern.literal(pattern),
      metricNamespace: namespace,
      metricName,
      metricValue: value,
      ...(unit ? { unit } : {}),
    }).metric();
  const denials = filter('DeniedFilter', '{ $.msg = "request" && $.decision = "denied" }', 'DeniedRequests', '1');
  const gateway5xx = filter('Gateway5xxFilter', '{ $.msg = "request" && $.status >= 500 }', 'Gateway5xx', '1');
  const latency = filter('LatencyFilter', '{ $.msg = "request" && $.totalMs >= 0 }', 'TotalMs', '$.totalMs', cloudwatch.Unit.MILLISECONDS);
  const unauthenticated = filter('UnauthenticatedFilter', '{ $.msg = "request" && $.status = 401 }', 'Unauthenticated', '1');
  // A space-delimited pattern: only a line whose first word is "user-data:" (never a JSON line).
  const bootFailures = filter('BootFailedFilter', BOOT_FAILED_PATTERN, 'BootFailures', '1');

  const action = new cwActions.SnsAction(props.topic);
  const all: cloudwatch.Alarm[] = [];
  const alarm = (id: string, metric: cloudwatch.IMetric, threshold: number, periods: number, description: string, options: Partial<cloudwatch.AlarmProps> = {}) => {
    const a = new cloudwatch.Alarm(stack, id, {
      metric,
      threshold,
      evaluationPeriods: periods,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
      ...options,
    });
    a.addAlarmAction(action);
    a.addOkAction(action);
    all.push(a);
    return a;
  };
  const fiveMinutes = Duration.minutes(5);
  const oneMinute = Duration.minutes(1);
  const { targetGroup } = props;
  const lb = props.loadBalancer.metrics;
  alarm('Gateway5xxAlarm', gateway5xx.with({ statistic: 'Sum', period: fiveMinutes }), 10, 1, '≥ 10 responses with status 5xx from the gateway in 5 minutes (audit lines): backend unreachable (502), credentials (503), timeouts (504)');
  alarm('Target5xxAlarm', targetGroup.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: fiveMinutes }), 10, 1, '≥ 10 target 5xx at the ALB in 5 minutes');
  const alb5xx = alarm('Alb5xxAlarm', lb.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period: fiveMinutes }), 10, 1, '≥ 10 ALB-generated 5xx in 5 minutes: no healthy host, or hosts refusing connections');
  alarm('DenialsAlarm', denials.with({ statistic: 'Sum', period: fiveMinutes }), 50, 1, '≥ 50 requests denied by the rules (403) in 5 minutes: a misconfigured client or someone probing');
  alarm('UnauthenticatedAlarm', unauthenticated.with({ statistic: 'Sum', period: fiveMinutes }), 100, 1, '≥ 100 requests refused for want of valid credentials (401) in 5 minutes: keys being guessed or tried after a leak, or a client whose key expired (auth.failedSignInLimit answers 429 beyond its burst)');
  alarm('LatencyAlarm', latency.with({ statistic: 'p99', period: fiveMinutes }), 5000, 3, 'p99 of the gateway\'s total request time ≥ 5 s for 15 minutes (audit lines\' totalMs)');
  alarm('TargetLatencyAlarm', targetGroup.metrics.targetResponseTime({ statistic: 'p99', period: fiveMinutes }), 5, 3, 'p99 ALB target response time ≥ 5 s for 15 minutes');
  alarm('UnhealthyHostsAlarm', targetGroup.metrics.unhealthyHostCount({ period: oneMinute }), 1, 5, 'a gateway host failing /-/ready for 5 minutes (a drain takes ~25 s; longer means a stuck or broken host)');
  alarm('HealthyHostsAlarm', targetGroup.metrics.healthyHostCount({ statistic: 'Minimum', period: oneMinute }), props.minHosts, 3, `fewer than ${props.minHosts} healthy gateway hosts (the group's minimum) for 3 minutes: one AZ or one bad host away from an outage`, {
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    // No data means no host reports at all: that is the alarm, not its absence.
    treatMissingData: cloudwatch.TreatMissingData.BREACHING,
  });
  const bootFailed = alarm('BootFailedAlarm', bootFailures.with({ statistic: 'Sum', period: oneMinute }), 1, 1, 'a gateway host failed to boot (user data: package install, kit download or checksum, install.sh\'s check or readiness); its reason is in the log stream INSTANCE_ID/user-data');
  if (props.sharedStore) {
    const fallbacks = filter('StoreFailOpenFilter', '{ $.msg = "rate-limit store unreachable*" }', 'RateLimitStoreFailOpen', '1');
    alarm('StoreFailOpenAlarm', fallbacks.with({ statistic: 'Sum', period: fiveMinutes }), 1, 1, 'a host lost the shared rate-limit store and counts limits alone (fail open: N hosts allow N × each limit) until it answers again');
  }
  return { refresh: [bootFailed, alb5xx], all };
}
