// The fleet's shared rate-limit store in the CDK app (-c sharedLimits=true with the rules'
// limits.store.kind valkey): an ElastiCache Serverless cache for Valkey in the hosts' private
// subnets that admits the hosts' security group only, one RBAC user whose password Secrets Manager
// generates and only the instance role may read, and user data that hands both to the gateway.
// Both MLflow modes, cfn-lint and cdk-nag included; and the refusals that keep the flag and the
// rules in agreement.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Template } from '../../infra/lib/testing.ts';
import { VALKEY_MAJOR_VERSION, VALKEY_USERNAME, valkeyAccessString } from '../../infra/lib/shared-limits.ts';
import { connectValkey } from '../../src/limits/valkey-connection.ts';
import { sharedTokenBuckets } from '../../src/limits/shared-token-buckets.ts';
import { REPO, scratchTempDirs } from '../support/processes.ts';
import { startValkey, VALKEY_SERVER, type Valkey } from '../support/valkey.ts';
import { API_KEY_SHA256, CERTIFICATE_ARN, EXISTING_VPC, cfnLint, nagFindings, oneOf, removeSynthesized, resourcesOf, synth, withSharedStore, type Resource, type Synthesized } from '../support/infra.ts';

setDefaultTimeout(240_000);
afterAll(removeSynthesized);
const tempDir = scratchTempDirs();

const SHIPPED = readFileSync(join(REPO, 'rules.yaml'), 'utf8');
const FLEET = withSharedStore(SHIPPED);

function rulesFile(text: string): string {
  const file = join(tempDir('rules'), 'rules.yaml');
  writeFileSync(file, text);
  return file;
}

const resources = resourcesOf;
const one = oneOf;
const getAtt = (id: string, attribute: string) => ({ 'Fn::GetAtt': [id, attribute] });

/** The user data's text, each CloudFormation reference shown as REF(logical id) or ATT(logical id.attribute). */
function userDataText(template: Template): string {
  const render = (part: unknown): string => {
    if (typeof part === 'string') return part;
    const o = part as Record<string, any>;
    if (o.Ref) return `REF(${o.Ref})`;
    if (o['Fn::GetAtt']) return `ATT(${o['Fn::GetAtt'].join('.')})`;
    if (o['Fn::Join']) return (o['Fn::Join'][1] as unknown[]).map(render).join(o['Fn::Join'][0]);
    return 'TOKEN';
  };
  return render(one(template, 'AWS::EC2::LaunchTemplate').props.LaunchTemplateData.UserData['Fn::Base64']);
}

const MODES = [
  { mode: 'tracking-server', suffix: 'Tracking' },
  { mode: 'mlflow-app', suffix: 'App' },
] as const;

for (const { mode, suffix } of MODES) {
  describe(`-c sharedLimits=true, ${mode} mode: the fleet's rate limits in ElastiCache Serverless`, () => {
    let s: Synthesized;
    let gateway: Template;
    let cache: Resource;
    let hostSg: string;
    let cacheSg: string;
    let secret: Resource;
    beforeAll(() => {
      s = synth({ mlflowMode: mode, certificateArn: CERTIFICATE_ARN, apiKeySha256: API_KEY_SHA256, sharedLimits: 'true', rulesFile: rulesFile(FLEET) });
      gateway = s.templates[`MlflowProxy-Gateway${suffix}`]!;
      cache = one(gateway, 'AWS::ElastiCache::ServerlessCache');
      secret = one(gateway, 'AWS::SecretsManager::Secret');
      hostSg = resources(gateway, 'AWS::EC2::SecurityGroup').find((g) => g.id.startsWith('HostSecurityGroup'))!.id;
      cacheSg = cache.props.SecurityGroupIds[0]['Fn::GetAtt'][0];
    });

    test(`the cache is Valkey ${VALKEY_MAJOR_VERSION} (a pinned major version), serverless, in the same private subnets as the hosts, with its own security group and the RBAC user group`, () => {
      expect(cache.props.Engine).toBe('valkey');
      expect(cache.props.MajorEngineVersion).toBe(VALKEY_MAJOR_VERSION);
      const asg = one(gateway, 'AWS::AutoScaling::AutoScalingGroup');
      expect(cache.props.SubnetIds).toEqual(asg.props.VPCZoneIdentifier);
      expect(cache.props.SubnetIds).toHaveLength(2);
      expect(cache.props.SecurityGroupIds).toEqual([getAtt(cacheSg, 'GroupId')]);
      expect(cacheSg).not.toBe(hostSg);
      const group = one(gateway, 'AWS::ElastiCache::UserGroup');
      expect(cache.props.UserGroupId).toBe(group.props.UserGroupId);
      expect(group.props.Engine).toBe('valkey');
    });

    test('the hosts reach it over TLS only: the rules say rediss://${VALKEY_ENDPOINT}, and the environment file gets the endpoint as host:port', () => {
      // ElastiCache Serverless has no setting that turns TLS off (it is always on); what could
      // still go wrong is a client speaking plain redis://, which the rules file decides.
      expect(FLEET).toContain('url: rediss://${VALKEY_ENDPOINT}');
      const text = userDataText(gateway);
      expect(text).toContain(`\nVALKEY_ENDPOINT=ATT(${cache.id}.Endpoint.Address):ATT(${cache.id}.Endpoint.Port)\nVALKEY_USER=${VALKEY_USERNAME}'`);
    });

    test("the cache's security group admits the hosts' security group on 6379 and nothing else; it sends nothing", () => {
      const inline = resources(gateway, 'AWS::EC2::SecurityGroup').find((g) => g.id === cacheSg)!;
      expect(inline.props.SecurityGroupIngress).toBeUndefined();
      expect(inline.props.SecurityGroupEgress).toEqual([expect.objectContaining({ CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic' })]);
      const ingress = resources(gateway, 'AWS::EC2::SecurityGroupIngress').filter((r) => JSON.stringify(r.props.GroupId) === JSON.stringify(getAtt(cacheSg, 'GroupId')));
      expect(ingress.map((r) => r.props)).toEqual([expect.objectContaining({ IpProtocol: 'tcp', FromPort: 6379, ToPort: 6379, SourceSecurityGroupId: getAtt(hostSg, 'GroupId') })]);
      const egress = resources(gateway, 'AWS::EC2::SecurityGroupEgress').filter((r) => JSON.stringify(r.props.DestinationSecurityGroupId) === JSON.stringify(getAtt(cacheSg, 'GroupId')));
      expect(egress.map((r) => r.props)).toEqual([expect.objectContaining({ GroupId: getAtt(hostSg, 'GroupId'), FromPort: 6379, ToPort: 6379 })]);
    });

    test("the user's password is generated by Secrets Manager and reaches ElastiCache as a dynamic reference: no password in the template", () => {
      expect(secret.props.GenerateSecretString).toEqual({ PasswordLength: 64, ExcludePunctuation: true, IncludeSpace: false });
      expect(secret.props.SecretString).toBeUndefined();
      const user = one(gateway, 'AWS::ElastiCache::User');
      expect(user.props).toEqual({
        Engine: 'valkey',
        UserId: expect.stringMatching(/^[a-z][a-z0-9-]*$/),
        UserName: VALKEY_USERNAME,
        AccessString: valkeyAccessString('smp:rl:'),
        AuthenticationMode: { Type: 'password', Passwords: [{ 'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: secret.id }, ':SecretString:::}}']] }] },
      });
      expect(one(gateway, 'AWS::ElastiCache::UserGroup').props.UserIds).toEqual([user.props.UserId]);
    });

    test('only the instance role may read the secret: GetSecretValue on that one secret, no resource policy', () => {
      expect(resources(gateway, 'AWS::SecretsManager::ResourcePolicy')).toEqual([]);
      const readers = resources(gateway, 'AWS::IAM::Policy').flatMap((p) =>
        (p.props.PolicyDocument.Statement as Array<Record<string, any>>)
          .filter((st) => JSON.stringify(st).includes('secretsmanager:') || JSON.stringify(st.Resource).includes(secret.id))
          .map((st) => ({ roles: p.props.Roles, action: st.Action, resource: st.Resource, effect: st.Effect })),
      );
      const role = resources(gateway, 'AWS::IAM::Role').find((r) => r.id.startsWith('HostRole'))!.id;
      expect(readers).toEqual([{ roles: [{ Ref: role }], action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], resource: { Ref: secret.id }, effect: 'Allow' }]);
    });

    test("the user data fetches the password by the secret's ARN into a root-only file and hands it to the unit with LoadCredential=", () => {
      const text = userDataText(gateway);
      expect(text).toContain(`VALKEY_SECRET_ARN='REF(${secret.id})'`);
      expect(text).toContain('aws secretsmanager get-secret-value --region "$secret_region" --secret-id "$VALKEY_SECRET_ARN"');
      expect(text).toContain('LoadCredential=valkey:$CREDENTIALS/valkey');
      // The password step comes before install.sh starts the service.
      expect(text.indexOf('retry 5 fetch_password')).toBeLessThan(text.indexOf('"$KIT/install.sh" "${install_args[@]}"'));
      expect(Buffer.byteLength(text)).toBeLessThan(16 * 1024 - 1024);
    });

    test('the stack outputs the endpoint and the secret ARN (never the password)', () => {
      const outputs = gateway.toJSON().Outputs as Record<string, any>;
      expect(outputs.ValkeyEndpoint.Value).toEqual({ 'Fn::Join': [':', [getAtt(cache.id, 'Endpoint.Address'), getAtt(cache.id, 'Endpoint.Port')]] });
      expect(outputs.ValkeyPasswordSecretArn.Value).toEqual({ Ref: secret.id });
    });

    test('cfn-lint finds no error in any template', () => {
      const matches = cfnLint(s.outdir);
      const errors = matches.filter((m) => m.Level === 'Error');
      console.log(`cfn-lint ${mode} + sharedLimits: ${errors.length} errors, ${matches.filter((m) => m.Level === 'Warning').length} warnings`);
      expect(errors.map((e) => `${e.Rule.Id} ${e.Filename}: ${e.Message}`)).toEqual([]);
    });

    test("cdk-nag's AwsSolutions pack reports no unacknowledged error, NIST 800-53 rev 5's nothing unacknowledged", () => {
      const findings = nagFindings(s.app);
      console.log(`cdk-nag ${mode} + sharedLimits: ${findings.filter((f) => f.severity === 'error').length} errors, ${findings.filter((f) => f.severity === 'warning').length} warnings unacknowledged`);
      expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
      expect(nagFindings(s.app, 'NIST.800.53.R5')).toEqual([]);
    });

    test('an alarm says when a host loses the store and counts alone (limits fail open)', () => {
      const filters = resources(gateway, 'AWS::Logs::MetricFilter').filter((f) => f.props.FilterPattern === '{ $.msg = "rate-limit store unreachable*" }');
      expect(filters).toHaveLength(1);
      expect(resources(gateway, 'AWS::CloudWatch::Alarm').map((a) => a.props.MetricName)).toContain('RateLimitStoreFailOpen');
    });
  });
}

/** The Gateway stack alone, in front of an existing VPC and tracking server. */
const BASE = { vpcId: EXISTING_VPC, mlflowArn: 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/existing', apiKeySha256: API_KEY_SHA256, certificateArn: CERTIFICATE_ARN };

describe('the flag and the rules agree, or synth refuses', () => {

  test('without the flag there is no cache, no secret and nothing about it in the user data', () => {
    const gateway = synth({ ...BASE }).templates['MlflowProxy-GatewayTracking']!;
    expect(resources(gateway).filter((r) => r.type.startsWith('AWS::ElastiCache::') || r.type.startsWith('AWS::SecretsManager::'))).toEqual([]);
    expect(userDataText(gateway)).toContain("VALKEY_SECRET_ARN=''");
    expect(userDataText(gateway)).not.toContain('VALKEY_ENDPOINT=');
  });

  test('rules with limits.store.kind valkey but no -c sharedLimits=true are refused (the fleet would have no store)', () => {
    // The stack's own variables are missing: the loader names them, the stack says why.
    expect(() => synth({ ...BASE, rulesFile: rulesFile(FLEET) })).toThrow(/environment variable VALKEY_ENDPOINT is not set[^]*The hosts get VALKEY_ENDPOINT and VALKEY_USER only with the stack's shared store: deploy with -c sharedLimits=true/);
    // A store named some other way is refused by the agreement check itself.
    const elsewhere = FLEET.replace('rediss://${VALKEY_ENDPOINT}', 'rediss://cache.example.com:6379').replace('${VALKEY_USER}', 'gw');
    expect(() => synth({ ...BASE, rulesFile: rulesFile(elsewhere) })).toThrow(/has limits.store.kind valkey, but the stack creates no shared store: deploy with -c sharedLimits=true/);
  });

  test('-c sharedLimits=true with rules that keep local buckets is refused (nothing would use the cache)', () => {
    expect(() => synth({ ...BASE, sharedLimits: 'true' })).toThrow(/-c sharedLimits=true creates an ElastiCache cache .* has no limits.store with kind valkey/);
  });

  test("rules that point elsewhere, without TLS, the cluster protocol, the stack's user or its credential file are refused, every problem named", () => {
    const wrong = FLEET.replace('url: rediss://${VALKEY_ENDPOINT}', 'url: redis://${VALKEY_ENDPOINT}')
      .replace('cluster: true', 'cluster: false')
      .replace('username: ${VALKEY_USER}', 'username: admin')
      .replace(/passwordFile: .*\n/, 'passwordEnv: VALKEY_PASSWORD\n');
    let message = '';
    try {
      synth({ ...BASE, sharedLimits: 'true', rulesFile: rulesFile(wrong) });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("limits.store does not point at the stack's shared store");
    expect(message).toContain('url must be rediss://${VALKEY_ENDPOINT}');
    expect(message).toContain('cluster must be true');
    expect(message).toContain('username must be ${VALKEY_USER}');
    expect(message).toContain('passwordFile must be ${CREDENTIALS_DIRECTORY:-/run/credentials/sagemaker-mlflow-proxy.service}/valkey');
  });

  test('a keyPrefix with glob characters is refused (it would widen the cache user\'s key pattern)', () => {
    const globbed = FLEET.replace('    cluster: true\n', '    cluster: true\n    keyPrefix: "rl:*"\n');
    expect(() => synth({ ...BASE, sharedLimits: 'true', rulesFile: rulesFile(globbed) })).toThrow(/keyPrefix "rl:\*": the stack's cache user is limited to the keys KEYPREFIX\*/);
  });

  test("a fleet's own keyPrefix is the only key pattern its cache user gets", () => {
    const prefixed = FLEET.replace('    cluster: true\n', '    cluster: true\n    keyPrefix: "team-a:rl:"\n');
    const gateway = synth({ ...BASE, sharedLimits: 'true', rulesFile: rulesFile(prefixed) }).templates['MlflowProxy-GatewayTracking']!;
    expect(one(gateway, 'AWS::ElastiCache::User').props.AccessString).toBe(valkeyAccessString('team-a:rl:'));
    expect(valkeyAccessString('team-a:rl:')).toStartWith('on ~team-a:rl:* -@all +');
  });
});

describe("the cache user's access string on a real server (item 9: the commands the limiter sends, its keys, nothing else)", () => {
  const PASSWORD = 'acl-test-password-0123456789';
  let valkey: Valkey;
  let accessString: string;
  beforeAll(async () => {
    // What the stack synthesizes, applied as ElastiCache applies an RBAC user's access string.
    const gateway = synth({ ...BASE, sharedLimits: 'true', rulesFile: rulesFile(FLEET) }).templates['MlflowProxy-GatewayTracking']!;
    accessString = one(gateway, 'AWS::ElastiCache::User').props.AccessString;
    valkey = await startValkey({ cluster: true });
    valkey.cli('ACL', 'SETUSER', VALKEY_USERNAME, 'reset', `>${PASSWORD}`, ...accessString.split(' '));
  });
  afterAll(async () => {
    await valkey?.stop();
  });
  const asUser = (...command: string[]) => spawnSync(VALKEY_SERVER.replace(/-server$/, '-cli'), ['-p', String(valkey.port), '--user', VALKEY_USERNAME, '--pass', PASSWORD, '--no-auth-warning', ...command], { encoding: 'utf8' }).stdout.trim();

  test("the gateway's own store connects in cluster mode, takes tokens under its prefix and answers the probe", async () => {
    const connection = connectValkey({ kind: 'valkey', url: valkey.url, cluster: true, username: VALKEY_USERNAME, keyPrefix: 'smp:rl:', timeoutMs: 2000, probeSeconds: 1 }, { password: PASSWORD });
    try {
      await connection.connected();
      const store = sharedTokenBuckets(connection, 'smp:rl:');
      expect(await store.take('client-a', { requestsPerSecond: 1, burst: 2 }, Date.now())).toEqual({ ok: true, remaining: 1 });
      await connection.ping();
      expect(valkey.cli('ACL', 'LOG')).toBe('');
    } finally {
      await connection.close();
    }
  });

  test('keyless and administrative commands, and keys outside the prefix, are refused (NOPERM)', () => {
    for (const command of [['FLUSHALL'], ['KEYS', '*'], ['CONFIG', 'GET', '*'], ['SCAN', '0'], ['DEL', 'smp:rl:client-a'], ['SET', 'smp:rl:x', '1'], ['HSET', 'other:x', 'tokens', '1'], ['CLUSTER', 'RESET'], ['CLIENT', 'KILL', 'ID', '1'], ['SCRIPT', 'FLUSH']]) {
      expect({ command, reply: asUser(...command) }).toEqual({ command, reply: expect.stringContaining('NOPERM') });
    }
    expect(valkey.cli('DBSIZE')).toBe('1');
  });
});
