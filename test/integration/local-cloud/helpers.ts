import { GreengrassV2Client } from '@aws-sdk/client-greengrassv2';
import { IoTClient } from '@aws-sdk/client-iot';
import { expect } from 'vitest';
import { createLocalCloud, type LocalCloud, type LocalCloudOptions } from '../../../local-cloud/server.ts';

export const REGION = 'eu-west-1';
export const ACCOUNT = '000000000000';

export interface TestCloud {
  cloud: LocalCloud;
  iot: IoTClient;
  greengrass: GreengrassV2Client;
  close(): Promise<void>;
}

/**
 * A local cloud on a free port with quotas off unless the test turns them on, and clients that never retry.
 * CreateKeysAndCertificate makes EC keys unless the test asks for AWS's RSA ones: most tests make many and
 * do not look at the key.
 */
export async function startCloud(options: LocalCloudOptions = {}): Promise<TestCloud> {
  const cloud = await createLocalCloud({ keyAlgorithm: 'ec-p256', ...options, faults: { quotas: false, ...options.faults } });
  const config = {
    endpoint: cloud.url,
    region: REGION,
    credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' },
    maxAttempts: 1,
  };
  const iot = new IoTClient(config);
  const greengrass = new GreengrassV2Client(config);
  return {
    cloud,
    iot,
    greengrass,
    async close() {
      iot.destroy();
      greengrass.destroy();
      await cloud.close();
    },
  };
}

interface AwsError {
  name: string;
  message: string;
  $metadata: { httpStatusCode?: number };
  [member: string]: unknown;
}

/** Awaits a rejected SDK call and checks the error's name and HTTP status. */
export async function expectAwsError(call: Promise<unknown>, name: string, status: number): Promise<AwsError> {
  const error = (await call.then(
    () => {
      throw new Error(`expected ${name} but the call succeeded`);
    },
    (caught: unknown) => caught,
  )) as AwsError;
  expect({ name: error.name, status: error.$metadata?.httpStatusCode }).toEqual({ name, status });
  return error;
}

export function thingTemplate(extraResources: Record<string, unknown> = {}, thingExtras: Record<string, unknown> = {}): string {
  return JSON.stringify({
    Parameters: { ThingName: { Type: 'String' } },
    Resources: {
      thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: 'ThingName' } }, ...thingExtras },
      ...extraResources,
    },
  });
}

export function certificateArnOf(certificateId: string): string {
  return `arn:aws:iot:${REGION}:${ACCOUNT}:cert/${certificateId}`;
}
