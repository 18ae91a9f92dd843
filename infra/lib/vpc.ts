// Where a stack's resources go: the Network stack's VPC, or an existing one by id (-c vpcId).
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';

export type NetworkPlacement = { vpc: ec2.IVpc; vpcId?: undefined } | { vpc?: undefined; vpcId: string };

/** The VPC for a stack: the one given, or looked up by id in that stack (Vpc.fromLookup needs a concrete account and region). */
export function resolveVpc(scope: Construct, placement: NetworkPlacement): ec2.IVpc {
  return placement.vpc ?? ec2.Vpc.fromLookup(scope, 'ExistingVpc', { vpcId: placement.vpcId });
}
