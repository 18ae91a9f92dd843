// Both dashboards against what a running gateway really emits. One gateway (its CLI, a plain
// backend, metrics on) answers a 200, a backend 500, a 401, a 403 and a 429; then
//   - every PromQL query of the Grafana dashboard reads only series and labels its metrics
//     endpoint serves (scraped, not listed by hand);
//   - every audit metric the CloudWatch dashboard shows has its metric filter in the Gateway
//     template, and every metric filter there matches the audit lines the gateway wrote, with the
//     counts those requests imply; the ALB, EC2 and agent metrics are the ones AWS and the user
//     data produce.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { auditLines, cleanAwsEnv, REPO, startGateway, tempDir, waitFor, type Started } from '../support/processes.ts';
import { parsePrometheus, type Sample } from '../support/prometheus.ts';
import { filterMatches, filterValue, promqlLabels, promqlMetricNames } from '../support/dashboard-queries.ts';
import { API_KEY_SHA256, CERTIFICATE_ARN, EXISTING_VPC, removeSynthesized, synth } from '../support/infra.ts';

setDefaultTimeout(240_000);

const KEY = 'dashboards-key-0123456789abcdef';
const GRAFANA = join(REPO, 'dashboards', 'grafana-sagemaker-mlflow-proxy.json');
let upstream: ReturnType<typeof Bun.serve>;
let gateway: Started;
let samples: Sample[];
let lines: Array<Record<string, unknown>>;

beforeAll(async () => {
  upstream = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch: (request) => (new URL(request.url).searchParams.get('run_id') === 'broken' ? Response.json({ error_code: 'INTERNAL_ERROR', message: 'x' }, { status: 500 }) : Response.json({ run: {} })),
  });
  const rules = join(tempDir('dashboards'), 'rules.yaml');
  writeFileSync(rules, `version: 1
listen: {host: 127.0.0.1, port: 0}
backend: {url: "http://127.0.0.1:${upstream.port}"}
metrics: {enabled: true, host: 127.0.0.1, port: 0}
clients:
  - id: ci
    apiKeys: [{sha256: "${hashApiKey(KEY)}", expires: "2099-01-01"}]
    policies: [reader]
    rateLimit: {requestsPerSecond: 0.001, burst: 3}
policies:
  reader: {operations: [GetRun]}
`);
  gateway = await startGateway(rules, cleanAwsEnv({}));
  const base = `http://127.0.0.1:${gateway.port}`;
  const auth = { authorization: `Bearer ${KEY}` };
  const statuses: number[] = [];
  // Rate limit: three tokens, so the fourth signed-in request is the 429; the 401 takes none.
  for (const [path, init] of [
    ['/api/2.0/mlflow/runs/get?run_id=1', { headers: auth }],
    ['/api/2.0/mlflow/runs/get?run_id=broken', { headers: auth }],
    ['/api/2.0/mlflow/runs/create', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' }],
    ['/api/2.0/mlflow/runs/get?run_id=1', {}],
    ['/api/2.0/mlflow/runs/get?run_id=1', { headers: auth }],
  ] as Array<[string, RequestInit]>) {
    const response = await fetch(`${base}${path}`, init);
    await response.arrayBuffer();
    statuses.push(response.status);
  }
  expect(statuses).toEqual([200, 500, 403, 401, 429]);
  await waitFor(() => auditLines(gateway.output()).length === 5);
  lines = auditLines(gateway.output());
  const metricsPort = Number(/"metricsPort":(\d+)/.exec(gateway.output())![1]);
  samples = parsePrometheus(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
});

afterAll(async () => {
  await gateway?.stop();
  upstream?.stop(true);
  removeSynthesized();
});

describe('the Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(GRAFANA, 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }>; templating: { list: Array<{ definition?: string }> } };
  const queries = [
    ...dashboard.panels.flatMap((panel) => panel.targets.map((target) => ({ where: `panel "${panel.title}"`, expr: target.expr }))),
    ...dashboard.templating.list.filter((v) => v.definition).map((v) => ({ where: 'a variable', expr: v.definition!.replace(/^label_values\((.*), \w+\)$/, '$1') })),
  ];

  test('has panels for requests, 401/403/429, 5xx, latency percentiles, upstream time and the process', () => {
    const titles = dashboard.panels.map((p) => p.title).join(' | ');
    for (const words of ['Requests', '401', '403', '429', '5xx', 'Request time', 'Upstream time', 'Process CPU', 'Process memory']) expect(titles).toContain(words);
  });

  test('every query reads only series the gateway\'s metrics endpoint serves', () => {
    const served = new Set(samples.map((s) => s.name));
    const missing = queries.flatMap(({ where, expr }) => promqlMetricNames(expr).filter((name) => !served.has(name)).map((name) => `${where}: ${name}`));
    expect(missing).toEqual([]);
    // The reader found names at all (a broken reader would pass the check above vacuously).
    expect(queries.every(({ expr }) => promqlMetricNames(expr).length > 0)).toBe(true);
  });

  test('every label a query groups by or matches on is a label of the series it reads', () => {
    const wrong = queries.flatMap(({ where, expr }) => {
      const series = samples.filter((s) => promqlMetricNames(expr).includes(s.name));
      return promqlLabels(expr).filter((label) => !series.some((s) => label in s.labels)).map((label) => `${where}: ${label}`);
    });
    expect(wrong).toEqual([]);
  });
});

describe('the CloudWatch dashboard', () => {
  let template: Record<string, any>;
  let widgets: Array<{ properties: { title: string; metrics: unknown[][] } }>;
  let filters: Array<{ pattern: string; namespace: string; name: string; value: string }>;
  beforeAll(() => {
    const s = synth({ vpcId: EXISTING_VPC, mlflowArn: 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/existing', apiKeySha256: API_KEY_SHA256, certificateArn: CERTIFICATE_ARN });
    template = s.templates['MlflowProxy-GatewayTracking']!.toJSON();
    const resources = Object.values(template.Resources) as Array<{ Type: string; Properties: any }>;
    const dashboards = resources.filter((r) => r.Type === 'AWS::CloudWatch::Dashboard');
    expect(dashboards).toHaveLength(1);
    // The body is a Fn::Join of text and tokens (region, ALB and target group names): tokens become a placeholder.
    const parts = dashboards[0]!.Properties.DashboardBody['Fn::Join'][1] as unknown[];
    widgets = JSON.parse(parts.map((p) => (typeof p === 'string' ? p : 'TOKEN')).join('')).widgets;
    filters = resources
      .filter((r) => r.Type === 'AWS::Logs::MetricFilter')
      .map((r) => ({ pattern: r.Properties.FilterPattern, namespace: r.Properties.MetricTransformations[0].MetricNamespace, name: r.Properties.MetricTransformations[0].MetricName, value: r.Properties.MetricTransformations[0].MetricValue }));
  });

  test('shows requests, refusals, 5xx, latency percentiles, target health and response times, host CPU and memory', () => {
    const titles = widgets.map((w) => w.properties.title).join(' | ');
    for (const words of ['Requests', '401, 403, 429', '5xx', 'request time', 'target response time', 'Target health', 'Host CPU', 'Host memory']) expect(titles).toContain(words);
    const stats = widgets.flatMap((w) => w.properties.metrics).filter((m) => m[1] === 'TotalMs').map((m) => (m.at(-1) as { stat: string }).stat);
    expect(stats).toEqual(['p50', 'p90', 'p99']);
  });

  test('every audit metric it shows is made by a metric filter of the same template', () => {
    const audit = widgets.flatMap((w) => w.properties.metrics).filter((m) => String(m[0]).startsWith('SagemakerMlflowProxy/'));
    expect(audit.length).toBeGreaterThanOrEqual(7);
    for (const [namespace, name] of audit) expect(filters.some((f) => f.namespace === namespace && f.name === name)).toBe(true);
  });

  test('no two metric filters publish one metric (each would add its own data point: every sum doubled)', () => {
    const published = filters.map((f) => `${f.namespace} ${f.name}`);
    expect(published.filter((metric, i) => published.indexOf(metric) !== i)).toEqual([]);
  });

  test('every metric filter matches the audit lines a real gateway wrote, as often as the requests say', () => {
    const count = (name: string) => {
      const filter = filters.find((f) => f.name === name)!;
      const matched = lines.filter((line) => filterMatches(filter.pattern, line));
      for (const line of matched) expect(typeof filterValue(filter.value, line)).toBe('number');
      return matched.length;
    };
    expect(Object.fromEntries(filters.map((f) => [f.name, count(f.name)]))).toEqual({
      Requests: 5,
      Unauthenticated: 1,
      RateLimited: 1,
      DeniedRequests: 1,
      Gateway5xx: 1,
      TotalMs: 5,
      // The user data's failure line only (test/infra/user-data.test.ts): never a JSON line.
      BootFailures: 0,
    });
  });

  test('the AWS metrics are ones AWS publishes, by the dimensions it publishes them with; memory comes from the agent the user data configures', () => {
    const aws = widgets.flatMap((w) => w.properties.metrics).filter((m) => !String(m[0]).startsWith('SagemakerMlflowProxy/'));
    const known: Record<string, string[]> = {
      'AWS/ApplicationELB': ['RequestCount', 'HTTPCode_Target_5XX_Count', 'HTTPCode_ELB_5XX_Count', 'TargetResponseTime', 'HealthyHostCount', 'UnHealthyHostCount'],
      'AWS/EC2': ['CPUUtilization'],
      CWAgent: ['mem_used_percent'],
    };
    for (const [namespace, name, ...rest] of aws) {
      expect(known[String(namespace)] ?? []).toContain(String(name));
      if (namespace !== 'AWS/ApplicationELB') expect(rest[0]).toBe('AutoScalingGroupName');
    }
    const userData = readFileSync(join(REPO, 'infra', 'lib', 'user-data.sh'), 'utf8');
    expect(userData).toContain('"measurement": ["mem_used_percent"]');
    expect(userData).toContain('"aggregation_dimensions": [["AutoScalingGroupName"]]');
    // The grant is the hosts' role's, in a customer-managed policy: NIST 800-53 rev 5's IAMNoInlinePolicy is not raised.
    const policies = (Object.values(template.Resources) as Array<{ Type: string; Properties: any }>).filter((r) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy');
    const granting = policies.filter((p) => p.Properties.PolicyDocument.Statement.some((s: any) => s.Action === 'cloudwatch:PutMetricData'));
    expect(granting.map((p) => p.Type)).toEqual(['AWS::IAM::ManagedPolicy']);
    expect(JSON.stringify(granting[0]!.Properties.Roles)).toContain('HostRole');
    const statements = granting[0]!.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>;
    const put = statements.find((s) => s.Action === 'cloudwatch:PutMetricData');
    expect(put).toMatchObject({ Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': 'CWAgent' } } });
    // append_dimensions AutoScalingGroupName: the agent's ec2tagger reads the instance's
    // aws:autoscaling:groupName tag with ec2:DescribeTags and drops every metric until that call
    // succeeds (aws/amazon-cloudwatch-agent, plugins/processors/ec2tagger/ec2tagger.go:
    // processMetrics returns nothing before initialRetrievalOfTagsAndVolumes sets started).
    expect(statements.find((s) => s.Action === 'ec2:DescribeTags')).toMatchObject({ Effect: 'Allow', Resource: '*' });
    expect(statements.map((s) => s.Action).sort()).toEqual(['cloudwatch:PutMetricData', 'ec2:DescribeTags']);
  });
});
