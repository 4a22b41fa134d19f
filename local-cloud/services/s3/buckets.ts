import { createHash } from 'node:crypto';
import type { LocalCloudContext } from '../../wire/context.ts';
import { parseXml } from '../../wire/rest-xml.ts';
import type { ServiceResponse } from '../../wire/service.ts';
import { discardUpload, isoDate, noContent, requireBucket, type S3Call, type S3Service, s3XmlResponse } from './call.ts';
import { malformedXml, s3Error } from './errors.ts';

/** The region S3 puts a bucket in when CreateBucket names none. */
const DEFAULT_REGION = 'us-east-1';

/** S3's general purpose bucket naming rules (length, characters, no IP address form, no `xn--`/`-s3alias` forms). */
function isValidBucketName(name: string): boolean {
  return (
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) &&
    !name.includes('..') &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name) &&
    !/^(xn--|sthree-)/.test(name) &&
    !/(-s3alias|--ol-s3|\.mrap|--x-s3)$/.test(name)
  );
}

function textOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function createBucket(service: S3Service, call: S3Call): ServiceResponse {
  const { context } = service;
  const { bucket: name, request } = call;
  if (!isValidBucketName(name)) throw s3Error('InvalidBucketName', 400, 'The specified bucket is not valid.', { BucketName: name });
  let constraint = '';
  if (request.body.length > 0) {
    const document = parseXml(request.body, []);
    const configuration = document?.CreateBucketConfiguration;
    if (configuration === undefined) throw malformedXml();
    constraint = textOf((configuration as Record<string, unknown>)?.LocationConstraint) ?? '';
  }
  if (constraint === DEFAULT_REGION)
    throw s3Error('InvalidLocationConstraint', 400, 'The specified location-constraint is not valid', { LocationConstraint: constraint });
  const region = constraint || DEFAULT_REGION;
  if (region !== request.region) {
    const which = constraint === '' ? 'unspecified location constraint' : `${constraint} location constraint`;
    throw s3Error(
      'IllegalLocationConstraintException',
      400,
      `The ${which} is incompatible for the region specific endpoint this request was sent to.`,
    );
  }
  const existing = context.store.state.buckets.get(name);
  // us-east-1 keeps S3's original behaviour: creating a bucket you already own there succeeds.
  if (existing && region !== DEFAULT_REGION) {
    throw s3Error('BucketAlreadyOwnedByYou', 409, 'Your previous request to create the named bucket succeeded and you already own it.', {
      BucketName: name,
    });
  }
  if (!existing) addBucket(context, { name, region, eventBridge: false });
  return { status: 200, headers: { location: `/${name}` } };
}

/** A bucket as a deployed stack declares it (local-cloud/lambda/stack-buckets.ts). */
export interface BucketDefinition {
  name: string;
  region: string;
  /** The bucket's `NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled`. */
  eventBridge: boolean;
}

function addBucket(context: LocalCloudContext, { name, region, eventBridge }: BucketDefinition): void {
  context.store.state.buckets.set(name, { name, region, createdAt: context.clock.now(), eventBridge });
}

/** Creates a stack's bucket unless it exists, as CloudFormation would on deploy. */
export function createStackBucket(context: LocalCloudContext, bucket: BucketDefinition): void {
  if (!context.store.state.buckets.has(bucket.name)) addBucket(context, bucket);
}

export function headBucket(service: S3Service, call: S3Call): ServiceResponse {
  const bucket = requireBucket(service.context, call.bucket);
  return { status: 200, headers: { 'x-amz-bucket-region': bucket.region } };
}

export function getBucketLocation(service: S3Service, call: S3Call): ServiceResponse {
  const bucket = requireBucket(service.context, call.bucket);
  return s3XmlResponse('LocationConstraint', { '#text': bucket.region === DEFAULT_REGION ? '' : bucket.region });
}

export function deleteBucket(service: S3Service, call: S3Call): ServiceResponse {
  const { store } = service.context;
  const bucket = requireBucket(service.context, call.bucket);
  if (!store.state.objects.in(bucket.name).isEmpty())
    throw s3Error('BucketNotEmpty', 409, 'The bucket you tried to delete is not empty', { BucketName: bucket.name });
  const uploads = store.state.uploads.in(bucket.name);
  for (const upload of [...uploads.values()]) discardUpload(store, bucket.name, upload.uploadId);
  store.state.buckets.delete(bucket.name);
  return noContent();
}

export function listBuckets(service: S3Service): ServiceResponse {
  const { context } = service;
  const ownerId = createHash('sha256').update(context.accountId).digest('hex');
  return s3XmlResponse('ListAllMyBucketsResult', {
    Owner: { ID: ownerId, DisplayName: 'local' },
    Buckets: {
      Bucket: [...context.store.state.buckets.values()].map((bucket) => ({
        Name: bucket.name,
        CreationDate: isoDate(bucket.createdAt),
        BucketRegion: bucket.region,
      })),
    },
  });
}

/**
 * Only the EventBridge destination exists here: SNS, SQS and Lambda destinations are refused as S3
 * refuses destinations it cannot reach, rather than stored to no effect.
 */
export function putBucketNotificationConfiguration(service: S3Service, call: S3Call): ServiceResponse {
  const { store } = service.context;
  const bucket = requireBucket(service.context, call.bucket);
  const document = parseXml(call.request.body, []);
  if (!document || !('NotificationConfiguration' in document)) throw malformedXml();
  const configuration = document.NotificationConfiguration;
  const members =
    typeof configuration === 'object' && configuration !== null ? Object.keys(configuration).filter((name) => name !== '#text') : [];
  const unreachable = members.filter((name) => name !== 'EventBridgeConfiguration');
  if (unreachable.length > 0) {
    throw s3Error(
      'InvalidArgument',
      400,
      `Unable to validate the following destination configurations: the local cloud emulates only EventBridgeConfiguration, not ${unreachable.join(', ')}`,
      {
        ArgumentName: unreachable[0] as string,
        ArgumentValue: '',
      },
    );
  }
  store.state.buckets.set(bucket.name, { ...bucket, eventBridge: members.includes('EventBridgeConfiguration') });
  return { status: 200 };
}

export function getBucketNotificationConfiguration(service: S3Service, call: S3Call): ServiceResponse {
  const bucket = requireBucket(service.context, call.bucket);
  return s3XmlResponse('NotificationConfiguration', bucket.eventBridge ? { EventBridgeConfiguration: '' } : {});
}
