// The fleet's shared rate-limit store (README, "A fleet: shared limits in Valkey / Redis"): an
// ElastiCache Serverless cache for Valkey in the hosts' private subnets, reachable from the hosts'
// security group only, with one RBAC user whose password Secrets Manager generates. The password
// is never in the template (the user gets it through a CloudFormation dynamic reference), in the
// user data (which names the secret's ARN only) or in a log (the host writes it to a root-only
// file; user-data.sh).
//
// AWS documentation this follows:
//   - ElastiCache user guide, "Role-Based Access Control (RBAC)": access to a serverless cache is
//     controlled only through RBAC; a user group of engine "valkey" holds only users with a
//     password (or IAM), so it needs no passwordless "default" user;
//   - ElastiCache Serverless always encrypts in transit (TLS) and at rest; its endpoint answers on
//     port 6379 (writes and reads) and 6380 (reads from replicas after READONLY);
//   - CloudFormation, "Get values stored in other services using dynamic references": a
//     {{resolve:secretsmanager:...}} value is resolved at deploy time and not shown in the template.
// The user's access string names the commands the store sends and the key prefix it uses, nothing
// more (valkeyAccessString).
import { CfnOutput, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge } from './nag.ts';

/** The engine's major version, pinned: a new major version is a decision (and a test run), not a side effect of a deploy. */
export const VALKEY_MAJOR_VERSION = '8';
/**
 * The only port the hosts may use. 6380 is the Serverless reader port (replica reads after
 * READONLY); every bucket check is a write (one Lua script), and ioredis opens replica connections
 * only when reads are scaled to replicas (they are not), so 6380 stays closed.
 */
export const VALKEY_PORT = 6379;
/** The RBAC user the gateway authenticates as (limits.store.username: ${VALKEY_USER}). */
export const VALKEY_USERNAME = 'sagemaker-mlflow-proxy';
/**
 * Where the gateway reads the cache user's password: the unit's credential `valkey`
 * (LoadCredential=, written by user-data.sh). systemd sets CREDENTIALS_DIRECTORY to
 * /run/credentials/UNIT for the service's commands; `check` run by install.sh or fleet-host.sh has no
 * such variable, hence the default in the rules: ${CREDENTIALS_DIRECTORY:-...}/valkey.
 */
export const VALKEY_PASSWORD_FILE = '/run/credentials/sagemaker-mlflow-proxy.service/valkey';

export interface SharedLimitStoreProps {
  vpc: ec2.IVpc;
  /** The hosts' subnets: the cache gets an endpoint in each (two AZs or more). */
  subnets: ec2.SubnetSelection;
  /** The gateway hosts' security group: the only source the cache admits. */
  hostSecurityGroup: ec2.SecurityGroup;
  /** The instance role: the only principal given the password. */
  hostRole: iam.IRole;
}

export class SharedLimitStore extends Construct {
  readonly cache: elasticache.CfnServerlessCache;
  readonly securityGroup: ec2.SecurityGroup;
  readonly password: secretsmanager.Secret;
  readonly user: elasticache.CfnUser;
  /** host:port of the cache's endpoint (VALKEY_ENDPOINT in the hosts' environment file). */
  readonly endpoint: string;

  constructor(scope: Construct, id: string, props: SharedLimitStoreProps) {
    super(scope, id);
    const stack = Stack.of(this);
    // Cache, user and user-group ids are unique per account and region: one set per Gateway stack
    // (so both MLflow modes can be deployed side by side). Lower case, as ElastiCache stores them.
    const name = stack.stackName.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 34);

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', { vpc: props.vpc, description: 'Gateway rate-limit cache: the gateway hosts in (6379 only), nothing out', allowAllOutbound: false });
    this.securityGroup.addIngressRule(props.hostSecurityGroup, ec2.Port.tcp(VALKEY_PORT), 'the gateway hosts (limits.store)');
    props.hostSecurityGroup.addEgressRule(this.securityGroup, ec2.Port.tcp(VALKEY_PORT), 'the rate-limit cache (limits.store)');

    this.password = new secretsmanager.Secret(this, 'Password', {
      description: `Password of the ElastiCache RBAC user ${VALKEY_USERNAME} of ${name} (the gateway's shared rate limits)`,
      // Letters and digits only: within RBAC's 16–128 printable characters, and nothing a shell,
      // a URL or the AUTH command would need quoted.
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      // The cache holds only rate-limit buckets that refill within seconds: nothing to keep.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.password.grantRead(props.hostRole);
    const rotation = 'The hosts read this password once, at boot. A rotation Lambda would change the secret while running hosts keep the old password. Rotation is the manual four-step sequence in docs/deploy-aws.md ("Shared rate limits"): give the user both passwords, update the secret, refresh the hosts, then drop the old password.';
    acknowledge(this.password, 'AwsSolutions-SMG4', rotation);
    acknowledge(this.password, 'NIST.800.53.R5-SecretsManagerRotationEnabled', rotation);
    acknowledge(this.password, 'NIST.800.53.R5-SecretsManagerUsingKMSKey', 'Under Secrets Manager\'s AWS-managed key: only the hosts\' role may read the secret (its resource-scoped grant), and no KMS permission is needed for it; a customer key would add a key policy to keep in step with that grant.');

    // The access string comes from the rules (limitUserToKeys), which are read once the endpoint exists.
    const user = new elasticache.CfnUser(this, 'User', {
      engine: 'valkey',
      userId: `${name}-gw`,
      userName: VALKEY_USERNAME,
      authenticationMode: { Type: 'password', Passwords: [this.password.secretValue.unsafeUnwrap()] },
    });
    this.user = user;
    this.node.addValidation({ validate: () => (user.accessString ? [] : ['SharedLimitStore: limitUserToKeys(keyPrefix) was not called: the cache user would have no access string']) });
    const group = new elasticache.CfnUserGroup(this, 'UserGroup', { engine: 'valkey', userGroupId: name, userIds: [user.userId] });
    group.addResourceDependency(user);

    this.cache = new elasticache.CfnServerlessCache(this, 'Cache', {
      serverlessCacheName: name,
      description: 'sagemaker-mlflow-proxy: rate-limit and failed-sign-in buckets shared by the gateway fleet',
      engine: 'valkey',
      majorEngineVersion: VALKEY_MAJOR_VERSION,
      subnetIds: props.vpc.selectSubnets(props.subnets).subnetIds,
      securityGroupIds: [this.securityGroup.securityGroupId],
      userGroupId: group.userGroupId,
      // A bucket is a few dozen bytes: 1 GB holds millions of clients, and caps the storage bill.
      cacheUsageLimits: { dataStorage: { maximum: 1, unit: 'GB' } },
    });
    this.cache.addResourceDependency(group);

    // One token (not "${address}:${port}"), so the rules' ${VALKEY_ENDPOINT} reads as one host at synth time.
    this.endpoint = Fn.join(':', [this.cache.attrEndpointAddress, this.cache.attrEndpointPort]);
    new CfnOutput(stack, 'ValkeyEndpoint', { value: this.endpoint, description: 'limits.store.url is rediss://THIS (the hosts get it as VALKEY_ENDPOINT)' });
    new CfnOutput(stack, 'ValkeyPasswordSecretArn', { value: this.password.secretArn, description: 'the cache user\'s password (the hosts fetch it at boot)' });
  }

  /**
   * The user may run only the commands the gateway sends (issue 20, item 9), and touch only the
   * keys under limits.store.keyPrefix, so fleets sharing a cache under different prefixes cannot
   * touch each other's buckets and nobody can FLUSHALL, KEYS or CONFIG the cache with this password.
   */
  limitUserToKeys(keyPrefix: string): void {
    // A glob character in the prefix would widen (or break) the key pattern.
    if (!/^[A-Za-z0-9:_.\-]+$/.test(keyPrefix)) throw new Error(`limits.store.keyPrefix "${keyPrefix}": the stack's cache user is limited to the keys KEYPREFIX*, so the prefix may hold only letters, digits and : _ . -`);
    this.user.accessString = valkeyAccessString(keyPrefix);
  }
}

/**
 * What the gateway's store sends (src/limits/valkey-connection.ts, ioredis 6 in cluster mode), as
 * a real server's ACL LOG showed command by command (test/infra/shared-limits.test.ts runs the
 * store against a server with exactly this user):
 *   EVALSHA, EVAL           the token-bucket script (EVAL when a node lacks it: NOSCRIPT)
 *   TIME, HMGET, HSET, PEXPIRE   what the script calls (scripts' commands are checked too)
 *   PING                    the fail-open probe
 *   INFO, CLUSTER INFO      ioredis's ready checks; CLUSTER SLOTS its slot map
 *   CLIENT SETNAME          ioredis names its cluster connections
 * AUTH and HELLO need no grant.
 */
export const VALKEY_COMMANDS = ['evalsha', 'eval', 'time', 'hmget', 'hset', 'pexpire', 'ping', 'info', 'cluster|info', 'cluster|slots', 'client|setname'] as const;

export function valkeyAccessString(keyPrefix: string): string {
  return `on ~${keyPrefix}* -@all ${VALKEY_COMMANDS.map((command) => `+${command}`).join(' ')}`;
}
