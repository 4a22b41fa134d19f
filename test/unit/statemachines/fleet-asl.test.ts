import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { FLEET_BATCH_LIMITS } from '../../../functions/domain/fleet-run.ts';
import { MAX_REQUEST_BYTES } from '../../../functions/domain/limits.ts';
import { loadServerlessProject, stateMachineDefinition } from '../../../local-cloud/index.ts';

/** asl-validator ships no types; this is the part of its API the test uses. */
type AslValidator = (
  definition: unknown,
  options?: { checkPaths?: boolean; checkArn?: boolean },
) => { isValid: boolean; errorsText: (separator?: string) => string };
const aslValidator = createRequire(import.meta.url)('asl-validator') as AslValidator;

const definition: any = stateMachineDefinition(await loadServerlessProject(), 'provisionFleet');
const batches = definition.States.Batches;

describe('statemachines/provision-fleet.asl.yaml', () => {
  it('is valid Amazon States Language (JSONPath)', () => {
    const result = aslValidator(definition, { checkArn: false });
    expect(result.isValid, result.errorsText('\n')).toBe(true);
  });

  it('batches at most a request of devices, by count and by bytes, as the batches are requests', () => {
    expect(batches.ItemBatcher).toMatchObject({
      MaxItemsPerBatch: FLEET_BATCH_LIMITS.maxItems,
      MaxInputBytesPerBatch: FLEET_BATCH_LIMITS.maxInputBytes,
    });
    expect(FLEET_BATCH_LIMITS.maxInputBytes).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
  });

  it('runs each batch as a Distributed Map child and waits for its request through startExecution.sync:2, tolerating every failed batch', () => {
    expect(batches.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    expect(batches.ItemProcessor.States.RunBatch.Resource).toBe('arn:aws:states:::states:startExecution.sync:2');
    expect(batches.ToleratedFailurePercentage).toBe(100);
    expect(batches.ResultWriter.Resource).toBe('arn:aws:states:::s3:putObject');
  });

  it('never retries an invalid manifest; catches it only to publish the completion event, then fails the run with its error and cause', () => {
    const validate = definition.States.ValidateManifest;
    const retried = (validate.Retry ?? []).flatMap((handler: { ErrorEquals: string[] }) => handler.ErrorEquals);
    expect(retried).not.toContain('InvalidManifest');
    expect(retried).not.toContain('States.ALL');
    expect(validate.Catch).toEqual([{ ErrorEquals: ['InvalidManifest'], ResultPath: '$.failure', Next: 'PublishInvalidManifest' }]);
    const publish = definition.States.PublishInvalidManifest;
    expect(publish.Resource).toEqual({ 'Fn::GetAtt': ['publishFleetCompletion', 'Arn'] });
    // Published or not, the run ends with the manifest's error.
    expect([publish.Next, ...publish.Catch.map((handler: { Next: string }) => handler.Next)]).toEqual([
      'ManifestInvalid',
      'ManifestInvalid',
    ]);
    expect(definition.States.ManifestInvalid).toMatchObject({ Type: 'Fail', ErrorPath: '$.failure.Error', CausePath: '$.failure.Cause' });
  });
});
