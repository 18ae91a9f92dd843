// How the fleet changes, and how a change that breaks it stops itself (issue 20, item 5).
//
//   - The AMI is fixed: -c amiId, or Amazon Linux 2023's latest looked up once and kept in
//     cdk.context.json (`cdk context --reset` and a deploy move the fleet to a newer one). A
//     floating image (an SSM parameter resolved at every deploy) would let any deploy roll every
//     host, and Auto Scaling cannot roll back to a launch template that names one ("Undo changes
//     with a manual or auto rollback", EC2 Auto Scaling user guide).
//   - First deploy: the group's creation policy waits for a cfn-signal from each of the minimum
//     hosts (user-data.sh sends it after install.sh has seen /-/ready, and a failure signal on any
//     error), so a fleet that cannot boot fails `cdk deploy` instead of looping.
//   - Later deploys: an instance refresh (CloudFormation's AutoScalingInstanceRefresh update
//     policy), never below the group's size, each new host healthy at the ALB and warm before the
//     next; it fails when an alarm of gateway-alarms.ts (`refresh`) goes off, during the refresh or
//     the bake time after it, and a failed update rolls the stack back to the previous launch
//     template, which refreshes the hosts back.
import { Duration } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';

/** A new host's time from InService to counting as warm (its first health checks have passed). */
export const INSTANCE_WARMUP = Duration.seconds(90);
/** After the last host is replaced, the refresh alarms must stay quiet this long before the deploy succeeds. */
export const BAKE_TIME = Duration.minutes(10);
/** How long the first deploy waits for the minimum hosts' signals (packages, kit, install.sh, readiness). */
export const BOOT_TIMEOUT = Duration.minutes(20);

export function hostImage(amiId: string | undefined, architecture: 'x86_64' | 'arm64'): ec2.IMachineImage {
  if (amiId) return fixedImage(amiId);
  return ec2.MachineImage.latestAmazonLinux2023({
    cpuType: architecture === 'arm64' ? ec2.AmazonLinuxCpuType.ARM_64 : ec2.AmazonLinuxCpuType.X86_64,
    cachedInContext: true,
  });
}

function fixedImage(amiId: string): ec2.IMachineImage {
  return { getImage: () => ({ imageId: amiId, osType: ec2.OperatingSystemType.LINUX, userData: ec2.UserData.forLinux() }) };
}

export function rolloutSettings(refreshAlarms: cloudwatch.IAlarm[]): Pick<autoscaling.AutoScalingGroupProps, 'updatePolicy' | 'signals' | 'defaultInstanceWarmup'> {
  return {
    defaultInstanceWarmup: INSTANCE_WARMUP,
    signals: autoscaling.Signals.waitForMinCapacity({ timeout: BOOT_TIMEOUT }),
    updatePolicy: autoscaling.UpdatePolicy.instanceRefresh({
      strategy: autoscaling.InstanceRefreshStrategy.ROLLING,
      minHealthyPercentage: 100,
      maxHealthyPercentage: 200,
      instanceWarmup: INSTANCE_WARMUP,
      bakeTime: BAKE_TIME,
      alarms: refreshAlarms,
    }),
  };
}
