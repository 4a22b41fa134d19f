/**
 * Checks, against a real AWS account or the local cloud, the behaviours that AWS does not document and that the
 * workflow and the local cloud rest on (docs/local-cloud.md, "Assumptions"). Each probe creates what it needs
 * under a fresh name prefix and removes it afterwards.
 *
 *   npm run check-assumptions -- --region eu-west-1 [--core <an existing Greengrass core device>]
 *   AWS_ENDPOINT_URL=http://127.0.0.1:4566 npm run check-assumptions -- --region us-east-1 --core demo-core
 *
 * Exit code 0 when every assumption held, 1 otherwise.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  BatchAssociateClientDeviceWithCoreDeviceCommand,
  BatchDisassociateClientDeviceFromCoreDeviceCommand,
  GreengrassV2Client,
} from '@aws-sdk/client-greengrassv2';
import {
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  DeleteCertificateCommand,
  DeleteThingCommand,
  DescribeCertificateCommand,
  DescribeThingCommand,
  DetachThingPrincipalCommand,
  IoTClient,
  ListThingPrincipalsCommand,
  ListThingPrincipalsV2Command,
  RegisterThingCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';

export interface ProbeResult {
  /** The number of the assumption in docs/local-cloud.md, or the workflow's own (`workflow`). */
  assumption: string;
  claim: string;
  observed: string;
  holds: boolean;
}

interface ProbeClients {
  iot: IoTClient;
  greengrass: GreengrassV2Client;
  /** An existing core device, for the probes that need one; they are skipped without it. */
  coreDeviceThingName?: string;
}

const errorName = async (call: Promise<unknown>): Promise<string | undefined> =>
  call.then(
    () => undefined,
    (error: Error) => error.name,
  );
const outcome = (name: string | undefined) => (name === undefined ? 'succeeded' : `failed: ${name}`);

function thingTemplate(thing: Record<string, unknown>, extra: { parameters?: object; resources?: object } = {}): string {
  return JSON.stringify({
    Parameters: { ThingName: { Type: 'String' }, ...extra.parameters },
    Resources: {
      thing: { Type: 'AWS::IoT::Thing', ...thing, Properties: { ThingName: { Ref: 'ThingName' }, ...(thing.Properties as object) } },
      ...extra.resources,
    },
  });
}

export async function checkAssumptions({ iot, greengrass, coreDeviceThingName }: ProbeClients): Promise<ProbeResult[]> {
  const prefix = `assumption-probe-${randomBytes(4).toString('hex')}`;
  const things: string[] = [];
  const certificates: string[] = [];
  const register = (thingName: string, templateBody: string, parameters: Record<string, string> = {}) => {
    things.push(thingName);
    return iot.send(new RegisterThingCommand({ templateBody, parameters: { ThingName: thingName, ...parameters } }));
  };
  const results: ProbeResult[] = [];

  try {
    const existing = `${prefix}-existing`;
    await register(existing, thingTemplate({ Properties: { AttributePayload: { probe: 'first' } } }));

    const reRegistered = await errorName(register(existing, thingTemplate({ Properties: { AttributePayload: { probe: 'second' } } })));
    const attributes = (await iot.send(new DescribeThingCommand({ thingName: existing }))).attributes ?? {};
    results.push({
      assumption: '1',
      claim: 'RegisterThing on an existing thing, without OverrideSettings, succeeds and leaves its attributes unchanged',
      observed: `${outcome(reRegistered)}; attribute probe = ${attributes.probe}`,
      holds: reRegistered === undefined && attributes.probe === 'first',
    });

    // Whether FAIL fails on any existing thing, or only on a differing value, decides whether a template could
    // tell a new thing from an existing one without a DescribeThing (docs/performance.md, apiCallsPerDevice).
    const identical = thingTemplate({
      Properties: { AttributePayload: { probe: 'first' } },
      OverrideSettings: { AttributePayload: 'FAIL' },
    });
    const failed = await errorName(register(existing, identical));
    results.push({
      assumption: '2',
      claim: 'OverrideSettings FAIL fails for an existing thing even when its value is the same, with ResourceRegistrationFailureException',
      observed: outcome(failed),
      holds: failed === 'ResourceRegistrationFailureException',
    });

    const crowded = `${prefix}-four-attributes`;
    const tooMany = await errorName(
      register(crowded, thingTemplate({ Properties: { AttributePayload: { a: '1', b: '2', c: '3', d: '4' } } })),
    );
    const created = await errorName(iot.send(new DescribeThingCommand({ thingName: crowded })));
    results.push({
      assumption: '21',
      claim: 'RegisterThing refuses a thing without a type and with 4 attributes, with InvalidRequestException, and creates nothing',
      observed: `${outcome(tooMany)}; thing ${created === undefined ? 'exists' : 'not created'}`,
      holds: tooMany === 'InvalidRequestException' && created === 'ResourceNotFoundException',
    });

    const { certificateArn, certificateId } = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    certificates.push(certificateId!);
    const holder = `${prefix}-implicit-attach`;
    const withCertificate = thingTemplate(
      {},
      {
        parameters: { CertificateId: { Type: 'String' } },
        resources: {
          certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'CertificateId' }, Status: 'ACTIVE' } },
        },
      },
    );
    await register(holder, withCertificate, { CertificateId: certificateId! });
    const exclusive = await errorName(
      iot.send(new AttachThingPrincipalCommand({ thingName: holder, principal: certificateArn, thingPrincipalType: 'EXCLUSIVE_THING' })),
    );
    const attachment = (await iot.send(new ListThingPrincipalsV2Command({ thingName: holder }))).thingPrincipalObjects?.[0];
    results.push({
      assumption: '7',
      claim:
        'AttachThingPrincipal EXCLUSIVE_THING of a certificate that RegisterThing attached to the same thing succeeds and makes it exclusive',
      observed: `${outcome(exclusive)}; attached as ${attachment?.thingPrincipalType ?? 'nothing'}`,
      holds: exclusive === undefined && attachment?.thingPrincipalType === 'EXCLUSIVE_THING',
    });

    await iot.send(new DetachThingPrincipalCommand({ thingName: holder, principal: certificateArn }));
    const detachedAgain = await errorName(iot.send(new DetachThingPrincipalCommand({ thingName: holder, principal: certificateArn })));
    results.push({
      assumption: '9',
      claim: 'DetachThingPrincipal of a pair that is not attached fails with ResourceNotFoundException',
      observed: outcome(detachedAgain),
      holds: detachedAgain === 'ResourceNotFoundException',
    });

    // A just-in-time provisioning template activates a PENDING_ACTIVATION certificate: AWS may apply Status too.
    await iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'INACTIVE' }));
    await register(`${prefix}-inactive-certificate`, withCertificate, { CertificateId: certificateId! });
    const status = (await iot.send(new DescribeCertificateCommand({ certificateId }))).certificateDescription?.status;
    results.push({
      assumption: '1',
      claim:
        'RegisterThing with the CertificateId of an INACTIVE certificate and Status ACTIVE, without OverrideSettings, leaves it INACTIVE',
      observed: `the certificate is ${status}`,
      holds: status === 'INACTIVE',
    });

    const unknownCore = await errorName(
      greengrass.send(
        new BatchAssociateClientDeviceWithCoreDeviceCommand({
          coreDeviceThingName: `${prefix}-no-core`,
          entries: [{ thingName: existing }],
        }),
      ),
    );
    results.push({
      assumption: 'workflow',
      claim:
        'BatchAssociateClientDeviceWithCoreDevice with an unknown core device fails the call with ResourceNotFoundException (not retried)',
      observed: outcome(unknownCore),
      holds: unknownCore === 'ResourceNotFoundException',
    });

    if (coreDeviceThingName !== undefined) {
      const disassociated = await greengrass
        .send(new BatchDisassociateClientDeviceFromCoreDeviceCommand({ coreDeviceThingName, entries: [{ thingName: existing }] }))
        .then(
          (answer) => `succeeded; error entries ${JSON.stringify(answer.errorEntries ?? [])}`,
          (error: Error) => `failed: ${error.name}`,
        );
      results.push({
        assumption: '11',
        claim: 'Disassociating a client device that is not associated succeeds, with no error entry',
        observed: disassociated,
        holds: disassociated === 'succeeded; error entries []',
      });
    }
  } finally {
    await removeAll(iot, things, certificates);
  }
  return results;
}

/** IoT detaches asynchronously: a delete right after a detach may be refused for a while. */
async function untilAccepted(call: () => Promise<unknown>): Promise<void> {
  for (const waitMs of [0, 500, 1000, 2000, 4000, 8000]) {
    await sleep(waitMs);
    const name = await errorName(call());
    if (name === undefined || name === 'ResourceNotFoundException') return;
  }
  await call();
}

async function removeAll(iot: IoTClient, things: readonly string[], certificates: readonly string[]): Promise<void> {
  for (const thingName of new Set(things)) {
    const principals = await iot.send(new ListThingPrincipalsCommand({ thingName })).then(
      (page) => page.principals ?? [],
      () => [],
    );
    for (const principal of principals) await iot.send(new DetachThingPrincipalCommand({ thingName, principal }));
    await untilAccepted(() => iot.send(new DeleteThingCommand({ thingName })));
  }
  for (const certificateId of certificates) {
    await iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'INACTIVE' }));
    await untilAccepted(() => iot.send(new DeleteCertificateCommand({ certificateId })));
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { region: { type: 'string' }, core: { type: 'string' } } });
  const config = values.region === undefined ? {} : { region: values.region };
  const results = await checkAssumptions({
    iot: new IoTClient(config),
    greengrass: new GreengrassV2Client(config),
    coreDeviceThingName: values.core,
  });
  for (const { assumption, claim, observed, holds } of results) {
    process.stdout.write(
      `${holds ? 'holds  ' : 'DIFFERS'}  ${assumption.padEnd(8)} ${claim}\n         ${''.padEnd(8)} observed: ${observed}\n`,
    );
  }
  return results.every((result) => result.holds) ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = await main();
