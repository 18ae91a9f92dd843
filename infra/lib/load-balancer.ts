// The gateway's Application Load Balancer: who may reach it, how long it waits, its listeners.
// Created under the Gateway stack with the construct ids it always had (AlbSecurityGroup,
// AlbAccessLogs, Alb, Https, Http), so a deployed stack keeps its load balancer and DNS name.
//
// Closed by default (issue 20, item 1): an internal ALB in the hosts' private subnets that admits
// the VPC's own range; an internet-facing one only with -c internetFacing=true and the client
// ranges written out (-c albIngressCidrs=...), 0.0.0.0/0 only if written. Deletion protection on
// (item 6). Plain HTTP only with -c allowHttp=true: with a certificate it redirects to HTTPS, and
// without one it forwards (a test behind a private network; synth warns).
import { Annotations, Duration, RemovalPolicy, SecretValue, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { AppConfig } from './config.ts';
import type { RulesFacts } from './gateway-rules.ts';
import { acknowledge } from './nag.ts';
import type { MtlsTrustStore } from './mtls-trust-store.ts';

/**
 * Seconds between the backend timeout and the ALB's idle timeout: the gateway answers a silent
 * backend itself (its MLflow-shaped 504, with a request id) before the ALB would cut the
 * connection and answer its own bare 504.
 */
export const ALB_IDLE_MARGIN_SECONDS = 5;

export interface LoadBalancerParts {
  loadBalancer: elbv2.ApplicationLoadBalancer;
  securityGroup: ec2.SecurityGroup;
}

/** The CIDR blocks admitted to the ALB's listeners: the operator's, or the VPC's own range. */
export function clientRanges(config: AppConfig, vpcCidr: string): string[] {
  return config.albIngressCidrs.length ? config.albIngressCidrs : [vpcCidr];
}

export function createLoadBalancer(stack: Stack, vpc: ec2.IVpc, vpcCidr: string, config: AppConfig): LoadBalancerParts {
  const securityGroup = new ec2.SecurityGroup(stack, 'AlbSecurityGroup', { vpc, description: 'Gateway ALB: clients in, the hosts out', allowAllOutbound: false });
  const ranges = clientRanges(config, vpcCidr);
  const ports = [config.certificateArn ? 443 : 80, ...(config.certificateArn && config.allowHttp ? [80] : [])];
  for (const range of ranges) {
    for (const port of ports) securityGroup.addIngressRule(ec2.Peer.ipv4(range), ec2.Port.tcp(port), `clients (${range}${port === 80 && config.certificateArn ? ', redirected to HTTPS' : ''})`);
  }
  if (ranges.includes('0.0.0.0/0')) {
    Annotations.of(stack).addWarning('albIngressCidrs includes 0.0.0.0/0: anyone on the internet reaches the load balancer (the web ACL and the gateway\'s sign-in are then all that stand in front of MLflow)');
    acknowledge(securityGroup, 'AwsSolutions-EC23', 'The operator wrote 0.0.0.0/0 into -c albIngressCidrs (it is never a default): clients anywhere, each request behind the web ACL and the gateway\'s sign-in.');
  }
  if (config.oidc) securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'OIDC token and user-info endpoints (ALB sign-in)');

  const accessLogs = new s3.Bucket(stack, 'AlbAccessLogs', {
    // ALB access logs support SSE-S3 only (Elastic Load Balancing user guide, "Access logs").
    encryption: s3.BucketEncryption.S3_MANAGED,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    versioned: true,
    lifecycleRules: [{ expiration: Duration.days(90), noncurrentVersionExpiration: Duration.days(7), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
    removalPolicy: RemovalPolicy.RETAIN,
  });
  acknowledge(accessLogs, 'AwsSolutions-S1', 'The ALB access-log bucket: its own server access logs would log the log deliveries; the ALB logs already say who called.');
  acknowledge(accessLogs, 'NIST.800.53.R5-S3BucketLoggingEnabled', 'The ALB access-log bucket: its own server access logs would log the log deliveries; the ALB logs already say who called.');
  acknowledge(accessLogs, 'NIST.800.53.R5-S3DefaultEncryptionKMS', 'Elastic Load Balancing delivers access logs only to buckets encrypted with SSE-S3 (ELB user guide, "Access logs for your Application Load Balancer"): a KMS key would stop the logs.');
  acknowledge(accessLogs, 'NIST.800.53.R5-S3BucketReplicationEnabled', 'Access logs kept 90 days in one region, versioned and retained when the stack is deleted; copying them to a second region is a records decision for the account, not this stack.');

  const loadBalancer = new elbv2.ApplicationLoadBalancer(stack, 'Alb', {
    vpc,
    internetFacing: config.internetFacing,
    vpcSubnets: { subnetType: config.internetFacing ? ec2.SubnetType.PUBLIC : ec2.SubnetType.PRIVATE_WITH_EGRESS },
    securityGroup,
    dropInvalidHeaderFields: true,
    // Item 6: `cdk destroy` and console deletes fail until -c albDeletionProtection=false is deployed.
    deletionProtection: config.albDeletionProtection,
  });
  loadBalancer.logAccessLogs(accessLogs, 'alb');
  if (!config.albDeletionProtection) acknowledge(loadBalancer, 'NIST.800.53.R5-ELBDeletionProtectionEnabled', 'Turned off by the operator (-c albDeletionProtection=false), as before deleting the stack.');
  return { loadBalancer, securityGroup };
}

/**
 * The ALB's idle timeout, from the rules (issue 20, item 4): longer than the backend timeout, so a
 * call MLflow answers within backend.timeoutSeconds is never cut by the ALB (AWS: the ALB closes a
 * connection with no data for the idle timeout and answers 504), and shorter than the gateway's
 * own keep-alive idle timeout, so the ALB, not the host, closes idle keep-alive connections (ELB
 * user guide, "Connection idle timeout": a target that closes first causes 502s).
 */
export function albIdleTimeoutSeconds(facts: Pick<RulesFacts, 'backendTimeoutSeconds' | 'listenerIdleTimeoutSeconds'>, file: string): number {
  const seconds = Math.ceil(facts.backendTimeoutSeconds) + ALB_IDLE_MARGIN_SECONDS;
  if (seconds >= facts.listenerIdleTimeoutSeconds) {
    throw new Error(`${file}: backend.timeoutSeconds (${facts.backendTimeoutSeconds}) leaves no room between the ALB's idle timeout (${seconds} s) and the gateway's keep-alive idle timeout (${facts.listenerIdleTimeoutSeconds} s): lower the backend timeout`);
  }
  return seconds;
}

/**
 * Whether port 80 forwards plain HTTP to the hosts: only with -c allowHttp and no certificate. With
 * a certificate it only ever redirects to HTTPS (issue 20, item 6), so nothing a client sends on it,
 * X-Amzn-Mtls-* headers included, reaches a host (mtls-trust-store.ts relies on this).
 */
export function plainHttpForwards(config: Pick<AppConfig, 'allowHttp' | 'certificateArn'>): boolean {
  return config.allowHttp && !config.certificateArn;
}

export function addListeners(stack: Stack, loadBalancer: elbv2.ApplicationLoadBalancer, config: AppConfig, targetGroup: elbv2.ApplicationTargetGroup, mtls?: MtlsTrustStore): void {
  const forward = elbv2.ListenerAction.forward([targetGroup]);
  if (config.certificateArn) {
    const https = loadBalancer.addListener('Https', {
      port: 443,
      protocol: elbv2.ApplicationProtocol.HTTPS,
      certificates: [elbv2.ListenerCertificate.fromArn(config.certificateArn)],
      sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
      open: false,
      defaultAction: config.oidc ? oidcAction(config, elbv2.UnauthenticatedAction.ALLOW, forward) : forward,
      ...(mtls ? { mutualAuthentication: mtls.mutualAuthentication } : {}),
    });
    if (config.oidc) {
      // Browsers on the sign-in paths without an ALB session go to the identity provider; every
      // other request passes unauthenticated to the gateway, which asks for an API key or a JWT
      // (an MLflow client cannot follow a sign-in redirect).
      https.addAction('SignIn', {
        priority: 10,
        conditions: [elbv2.ListenerCondition.pathPatterns(config.oidc.signInPaths)],
        action: oidcAction(config, elbv2.UnauthenticatedAction.AUTHENTICATE, forward),
      });
    }
  }
  if (!config.allowHttp) return;
  if (!plainHttpForwards(config)) {
    // Item 6: port 80 only ever answers with a redirect; nothing reaches the hosts in clear text.
    const redirect = loadBalancer.addListener('Http', {
      port: 80,
      protocol: elbv2.ApplicationProtocol.HTTP,
      open: false,
      defaultAction: elbv2.ListenerAction.redirect({ protocol: 'HTTPS', port: '443', permanent: true }),
    });
    acknowledge(redirect, 'NIST.800.53.R5-ELBv2ACMCertificateRequired', 'Port 80 only answers with a redirect to the HTTPS listener, which has the ACM certificate (-c certificateArn): an HTTP listener takes no certificate, and nothing on it reaches a host.');
    return;
  }
  Annotations.of(stack).addWarning('allowHttp: the load balancer listens on plain HTTP (port 80): API keys, passwords and tokens cross the network in clear text. Use it only for a test behind a private network.');
  const http = loadBalancer.addListener('Http', { port: 80, protocol: elbv2.ApplicationProtocol.HTTP, open: false, defaultAction: forward });
  const reason = 'No certificate was given (-c allowHttp=true without certificateArn): a test deployment without HTTPS, which synth warns about.';
  acknowledge(http, 'NIST.800.53.R5-ALBHttpToHttpsRedirection', reason);
  acknowledge(http, 'NIST.800.53.R5-ELBv2ACMCertificateRequired', reason);
}

function oidcAction(config: AppConfig, onUnauthenticated: elbv2.UnauthenticatedAction, next: elbv2.ListenerAction): elbv2.ListenerAction {
  const oidc = config.oidc!;
  return elbv2.ListenerAction.authenticateOidc({
    issuer: oidc.issuer,
    authorizationEndpoint: oidc.authorizationEndpoint,
    tokenEndpoint: oidc.tokenEndpoint,
    userInfoEndpoint: oidc.userInfoEndpoint,
    clientId: oidc.clientId,
    clientSecret: SecretValue.secretsManager(oidc.clientSecretName),
    scope: oidc.scope,
    onUnauthenticatedRequest: onUnauthenticated,
    next,
  });
}
