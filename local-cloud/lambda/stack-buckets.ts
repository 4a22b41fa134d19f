import { LOCAL_ACCOUNT_ID } from '../config.ts';
import type { BucketDefinition } from '../services/s3/buckets.ts';
import { isPlainObject } from '../wire/validation.ts';
import type { ServerlessProject } from './serverless-project.ts';

/**
 * The `AWS::S3::Bucket` resources of a project, as CloudFormation would create them for the stage: named by
 * `BucketName` (a string with the Framework's variables, or a `Fn::Sub` of them and the pseudo parameters), in the
 * project's region, with EventBridge notifications as the bucket's NotificationConfiguration sets them. Only those two
 * properties are read: the others (encryption, policies, lifecycle) are not emulated, and may hold what the local
 * variable resolver cannot resolve.
 */
export function stackBucketsOf(project: ServerlessProject): BucketDefinition[] {
  const resources =
    isPlainObject(project.config.resources) && isPlainObject(project.config.resources.Resources) ? project.config.resources.Resources : {};
  return Object.entries(resources)
    .filter(([, resource]) => isPlainObject(resource) && resource.Type === 'AWS::S3::Bucket')
    .map(([logicalId, resource]) => {
      const properties = ((resource as { Properties?: unknown }).Properties ?? {}) as {
        BucketName?: unknown;
        NotificationConfiguration?: { EventBridgeConfiguration?: { EventBridgeEnabled?: unknown } };
      };
      const stackName = `${project.service}-${project.stage}`;
      const name =
        properties.BucketName === undefined
          ? `${stackName}-${logicalId.toLowerCase()}`
          : bucketName(project, properties.BucketName, stackName);
      if (name === undefined)
        throw new Error(`${project.path}: bucket ${logicalId} needs a BucketName the local cloud can resolve (a string or a Fn::Sub)`);
      const eventBridge = properties.NotificationConfiguration?.EventBridgeConfiguration?.EventBridgeEnabled;
      return { name, region: project.region, eventBridge: eventBridge === true || eventBridge === 'true' };
    });
}

function bucketName(project: ServerlessProject, value: unknown, stackName: string): string | undefined {
  const template = isPlainObject(value) ? value['Fn::Sub'] : value;
  if (typeof template !== 'string') return undefined;
  // The pseudo parameters first: the Framework's resolver takes any other ${…} for one of its own variables.
  const pseudo: Record<string, string> = { AccountId: LOCAL_ACCOUNT_ID, Region: project.region, StackName: stackName, Partition: 'aws' };
  const substituted = template.replace(/\$\{AWS::(\w+)\}/g, (whole, name: string) => pseudo[name] ?? whole);
  const resolved = project.resolveVariables(substituted);
  return typeof resolved === 'string' ? resolved : undefined;
}
