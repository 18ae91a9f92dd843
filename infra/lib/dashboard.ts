// The Gateway stack's CloudWatch dashboard (issue 22 item 3): what the gateway did, from its audit
// lines (one JSON line per request, shipped to the stack's log group: README, "Logs"), next to what
// the load balancer and the hosts saw.
//   row 1  requests, and the refusals: 401 (unauthenticated), 403 (denied by the rules), 429 (rate
//          limited), gateway 5xx; the ALB's own and the targets' 5xx
//   row 2  the gateway's total request time p50 / p90 / p99 (audit totalMs), the ALB's target
//          response time p50 / p99
//   row 3  target health (healthy / unhealthy hosts), host CPU (AWS/EC2, detailed monitoring) and
//          memory (the CloudWatch agent's mem_used_percent, which the user data turns on)
// The audit metric filters that the alarms already define (Unauthenticated, DeniedRequests,
// Gateway5xx, TotalMs in gateway-alarms.ts) are read by name, never defined twice: two filters
// publishing one metric would each add a data point, doubling every sum. The ones only the
// dashboard needs (Requests, RateLimited) are defined here. A test (test/infra/dashboards.test.ts)
// checks that every metric of the dashboard's namespace has exactly one filter in the template, and
// that every filter matches the audit lines a real gateway writes.
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { auditMetricNamespace } from './gateway-alarms.ts';
import { acknowledge } from './nag.ts';

/** Where the CloudWatch agent puts host metrics (its default namespace); user-data.sh configures it. */
export const HOST_METRICS_NAMESPACE = 'CWAgent';

export interface GatewayDashboardProps {
  logGroup: logs.ILogGroup;
  loadBalancer: elbv2.ApplicationLoadBalancer;
  targetGroup: elbv2.ApplicationTargetGroup;
  autoScalingGroup: autoscaling.AutoScalingGroup;
  /** The hosts' role: it may put the agent's memory metric (and nothing else) into CloudWatch. */
  hostRole: iam.IRole;
}

export class GatewayDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: GatewayDashboardProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const namespace = auditMetricNamespace(stack);
    const period = Duration.minutes(1);
    const filter = (filterId: string, pattern: string, metricName: string, value = '1') =>
      new logs.MetricFilter(this, filterId, { logGroup: props.logGroup, filterPattern: logs.FilterPattern.literal(pattern), metricNamespace: namespace, metricName, metricValue: value }).metric();
    const byName = (metricName: string, statistic: string, label: string) => new cloudwatch.Metric({ namespace, metricName, statistic, period, label });

    // Audit lines: msg "request", one per request whatever its outcome (src/observability/audit.ts).
    const requests = filter('RequestsFilter', '{ $.msg = "request" }', 'Requests').with({ statistic: 'Sum', period, label: 'requests (audit lines)' });
    const unauthenticated = byName('Unauthenticated', 'Sum', '401 unauthenticated');
    const rateLimited = filter('RateLimitedFilter', '{ $.msg = "request" && $.status = 429 }', 'RateLimited').with({ statistic: 'Sum', period, label: '429 rate limited' });
    const denied = byName('DeniedRequests', 'Sum', '403 denied by the rules');
    const gateway5xx = byName('Gateway5xx', 'Sum', 'gateway 5xx');
    const latency = (p: string) => byName('TotalMs', p, `gateway ${p} (ms)`);

    const lb = props.loadBalancer.metrics;
    const targets = props.targetGroup.metrics;
    const asg = { AutoScalingGroupName: props.autoScalingGroup.autoScalingGroupName };
    const cpu = (statistic: string) => new cloudwatch.Metric({ namespace: 'AWS/EC2', metricName: 'CPUUtilization', dimensionsMap: asg, statistic, period, label: `CPU ${statistic.toLowerCase()} (%)` });
    const memory = (statistic: string) => new cloudwatch.Metric({ namespace: HOST_METRICS_NAMESPACE, metricName: 'mem_used_percent', dimensionsMap: asg, statistic, period, label: `memory ${statistic.toLowerCase()} (%)` });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${stack.stackName}-gateway`,
      defaultInterval: Duration.hours(3),
      widgets: [
        [
          new cloudwatch.GraphWidget({ title: 'Requests', width: 8, left: [requests, lb.requestCount({ period, label: 'ALB requests' })] }),
          new cloudwatch.GraphWidget({ title: 'Refused: 401, 403, 429', width: 8, left: [unauthenticated, denied, rateLimited] }),
          new cloudwatch.GraphWidget({
            title: '5xx: gateway, targets, load balancer',
            width: 8,
            left: [gateway5xx, targets.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period, label: 'target 5xx (ALB)' }), lb.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period, label: 'ALB 5xx' })],
          }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'Gateway request time (audit totalMs)', width: 12, left: [latency('p50'), latency('p90'), latency('p99')] }),
          new cloudwatch.GraphWidget({
            title: 'ALB target response time',
            width: 12,
            left: [targets.targetResponseTime({ statistic: 'p50', period, label: 'p50 (s)' }), targets.targetResponseTime({ statistic: 'p99', period, label: 'p99 (s)' })],
          }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'Target health', width: 8, left: [targets.healthyHostCount({ period, label: 'healthy hosts' }), targets.unhealthyHostCount({ period, label: 'unhealthy hosts' })] }),
          new cloudwatch.GraphWidget({ title: 'Host CPU', width: 8, left: [cpu('Average'), cpu('Maximum')], leftYAxis: { min: 0, max: 100 } }),
          new cloudwatch.GraphWidget({ title: 'Host memory (CloudWatch agent)', width: 8, left: [memory('Average'), memory('Maximum')], leftYAxis: { min: 0, max: 100 } }),
        ],
      ],
    });

    // What the CloudWatch agent needs for the memory metric. PutMetricData has no resource-level
    // permissions (Service Authorization Reference, "Amazon CloudWatch"): the namespace condition
    // is what narrows it. DescribeTags, which has none either ("Amazon EC2"): the user data's
    // append_dimensions AutoScalingGroupName makes the agent's ec2tagger read the instance's
    // aws:autoscaling:groupName tag with it, and drop every metric until that call succeeds
    // (aws/amazon-cloudwatch-agent, plugins/processors/ec2tagger/ec2tagger.go); AWS's
    // CloudWatchAgentServerPolicy grants it for the same reason. A customer-managed policy rather
    // than an inline one: NIST 800-53 rev 5's IAMNoInlinePolicy (every synth runs the pack) is then
    // not raised at all, and what it grants is harmless on any principal it is attached to.
    const agentMetrics = new iam.ManagedPolicy(this, 'HostMetricsPolicy', {
      description: 'sagemaker-mlflow-proxy hosts: the CloudWatch agent\'s memory metric for the dashboard (namespace CWAgent only, dimension AutoScalingGroupName)',
      statements: [
        new iam.PolicyStatement({ sid: 'PutHostMemoryMetric', actions: ['cloudwatch:PutMetricData'], resources: ['*'], conditions: { StringEquals: { 'cloudwatch:namespace': HOST_METRICS_NAMESPACE } } }),
        new iam.PolicyStatement({ sid: 'ReadAutoScalingGroupTag', actions: ['ec2:DescribeTags'], resources: ['*'] }),
      ],
      roles: [props.hostRole],
    });
    acknowledge(
      agentMetrics,
      'AwsSolutions-IAM5',
      'Neither cloudwatch:PutMetricData nor ec2:DescribeTags has resource-level permissions. PutMetricData\'s condition allows only the CloudWatch agent\'s namespace (host memory for the dashboard); DescribeTags reads tags only (the agent asks for its own instance\'s Auto Scaling group name).',
      ['Resource::*'],
    );
  }
}
