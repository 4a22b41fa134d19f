import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RequestChunk } from '../../../cli/plan.ts';
import { createStateRecorder, loadRun, newRun, type ResumeState, resumeChunk, undoneSince } from '../../../cli/resume.ts';
import type { PlannedDevice } from '../../../functions/domain/fleet-manifest.ts';
import { type FinishedRequest, finishRequest } from '../../../functions/domain/fleet-outcomes.ts';
import { DEPROVISIONING, PROVISIONING } from '../../../functions/domain/fleet-workflow.ts';
import { workDirectory } from '../../support/fleet-fixtures.ts';

const chunk: RequestChunk = {
  index: 0,
  requestId: 'm0123456789ab-0',
  devices: ['a', 'b', 'c'].map(
    (thingName, index): PlannedDevice => ({
      index,
      line: index + 2,
      where: `line ${index + 2}`,
      device: { thingName, coreDeviceThingName: 'core-a' },
    }),
  ),
};

/** A finished request in which the named devices failed and the others were provisioned. */
function finished(requestId: string, thingNames: string[], failing: string[]): FinishedRequest {
  return finishRequest(
    requestId,
    'SUCCEEDED',
    {
      requestId,
      status: failing.length === 0 ? 'SUCCEEDED' : 'PARTIAL',
      counts: { requested: thingNames.length, succeeded: thingNames.length - failing.length, failed: failing.length, rolledBack: 0 },
      devices: thingNames.map((thingName) =>
        failing.includes(thingName)
          ? {
              thingName,
              status: 'FAILED',
              coreDeviceThingName: 'core-a',
              error: { step: 'register', code: 'ThrottlingException', message: 'slow down' },
            }
          : { thingName, status: 'PROVISIONED', coreDeviceThingName: 'core-a' },
      ),
    },
    thingNames.map((thingName) => ({ thingName, coreDeviceThingName: 'core-a' })),
    'PROVISIONED',
  );
}

function stateOf(...requests: FinishedRequest[]): ResumeState {
  return new Map(requests.map((request) => [request.requestId, request]));
}

const thingNamesOf = (devices: readonly PlannedDevice[] | undefined) => devices?.map(({ device }) => device.thingName);

describe('resumeChunk', () => {
  it('sends every device under the chunk id when nothing is recorded', () => {
    const resumption = resumeChunk(chunk, new Map(), 'PROVISIONED');

    expect(resumption.alreadyDone).toEqual([]);
    expect(resumption.next).toMatchObject({ requestId: chunk.requestId, attempt: 0 });
    expect(thingNamesOf(resumption.next?.devices)).toEqual(['a', 'b', 'c']);
  });

  it('sends nothing when every device was provisioned, and keeps their outcomes', () => {
    const resumption = resumeChunk(chunk, stateOf(finished(chunk.requestId, ['a', 'b', 'c'], [])), 'PROVISIONED');

    expect(resumption.next).toBeUndefined();
    expect(resumption.alreadyDone.map(({ planned, requestId, resumed }) => [planned.device.thingName, requestId, resumed])).toEqual([
      ['a', chunk.requestId, true],
      ['b', chunk.requestId, true],
      ['c', chunk.requestId, true],
    ]);
  });

  it('retries only the failed devices, as attempt 1 under a new id', () => {
    const resumption = resumeChunk(chunk, stateOf(finished(chunk.requestId, ['a', 'b', 'c'], ['b', 'c'])), 'PROVISIONED');

    expect(resumption.next).toMatchObject({ requestId: `${chunk.requestId}-r1`, attempt: 1 });
    expect(thingNamesOf(resumption.next?.devices)).toEqual(['b', 'c']);
    expect(resumption.alreadyDone.map(({ planned }) => planned.device.thingName)).toEqual(['a']);
  });

  it('sends again the devices a cancel left NOT_STARTED, as it does failed ones', () => {
    const cancelled = finishRequest(
      chunk.requestId,
      'SUCCEEDED',
      {
        requestId: chunk.requestId,
        status: 'CANCELLED',
        counts: { requested: 3, succeeded: 1, failed: 0, rolledBack: 0, notStarted: 2 },
        devices: [
          { thingName: 'a', status: 'PROVISIONED', coreDeviceThingName: 'core-a' },
          { thingName: 'b', status: 'NOT_STARTED', coreDeviceThingName: 'core-a' },
          { thingName: 'c', status: 'NOT_STARTED', coreDeviceThingName: 'core-a' },
        ],
      },
      ['a', 'b', 'c'].map((thingName) => ({ thingName, coreDeviceThingName: 'core-a' })),
      'PROVISIONED',
    );
    const resumption = resumeChunk(chunk, stateOf(cancelled), 'PROVISIONED');

    expect(thingNamesOf(resumption.next?.devices)).toEqual(['b', 'c']);
    expect(resumption.alreadyDone.map(({ planned }) => planned.device.thingName)).toEqual(['a']);
  });

  it('follows the chain of retries: the latest outcome of each device decides', () => {
    const state = stateOf(finished(chunk.requestId, ['a', 'b', 'c'], ['b', 'c']), finished(`${chunk.requestId}-r1`, ['b', 'c'], ['c']));

    const resumption = resumeChunk(chunk, state, 'PROVISIONED');

    expect(resumption.next).toMatchObject({ requestId: `${chunk.requestId}-r2`, attempt: 2 });
    expect(thingNamesOf(resumption.next?.devices)).toEqual(['c']);
    expect(resumption.alreadyDone.map(({ planned, requestId }) => [planned.device.thingName, requestId])).toEqual([
      ['a', chunk.requestId],
      ['b', `${chunk.requestId}-r1`],
    ]);
  });
});

describe('the state file', () => {
  it('finds no run when there is none, and reads back what the recorder wrote, run id included', async () => {
    const path = join(await workDirectory(), 'nested', 'report.state.json');
    expect(await loadRun(path)).toBeUndefined();
    const run = newRun();
    const recorder = createStateRecorder(path, run, (error) => {
      throw error;
    });

    await Promise.all([recorder.record(finished('r-1', ['a'], [])), recorder.record(finished('r-2', ['b'], ['b']))]);

    expect(await loadRun(path)).toEqual({ runId: run.runId, state: stateOf(finished('r-1', ['a'], []), finished('r-2', ['b'], ['b'])) });
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ version: 2, runId: run.runId });
  });

  it('gives every new run an id of its own, and a run recorded before run ids existed the empty one', async () => {
    const path = join(await workDirectory(), 'report.state.json');
    await writeFile(path, JSON.stringify({ version: 1, requests: {} }));

    expect(newRun().runId).not.toBe(newRun().runId);
    expect(await loadRun(path)).toEqual({ runId: '', state: new Map() });
  });

  it('reports a failed write, and a later write still records everything', async () => {
    const directory = await workDirectory();
    const blocker = join(directory, 'out');
    await writeFile(blocker, "a file where the state file's directory belongs");
    const path = join(blocker, 'report.state.json');
    const failures: Error[] = [];
    const run = newRun();
    const recorder = createStateRecorder(path, run, (error) => void failures.push(error));

    await recorder.record(finished('r-1', ['a'], []));
    expect(failures).toHaveLength(1);
    await rm(blocker);
    await recorder.record(finished('r-2', ['b'], []));

    expect(failures).toHaveLength(1);
    expect((await loadRun(path))?.state).toEqual(stateOf(finished('r-1', ['a'], []), finished('r-2', ['b'], [])));
  });

  it('refuses a file it does not understand rather than resending everything', async () => {
    const path = join(await workDirectory(), 'report.state.json');
    await writeFile(path, JSON.stringify({ version: 7, requests: {} }));

    await expect(loadRun(path)).rejects.toThrow(/not a state file/);
  });
});

describe('undoneSince', () => {
  const deprovisioned = (requestId: string, thingNames: string[]): FinishedRequest => ({
    requestId,
    executionStatus: 'SUCCEEDED',
    devices: thingNames.map((thingName) => ({ thingName, status: 'DEPROVISIONED', coreDeviceThingName: 'core-a' })),
  });

  it("names the devices whose last done outcome, in one state file, is the other workflow's", () => {
    const state = stateOf(finished('m1-0', ['a', 'b', 'c'], []), deprovisioned('d1-0', ['a', 'b']), finished('m1-0-r1', ['b'], []));

    expect([...undoneSince(state, PROVISIONING, DEPROVISIONING)]).toEqual(['a']);
    expect([...undoneSince(state, DEPROVISIONING, PROVISIONING)].sort()).toEqual(['b', 'c']);
  });

  it("counts every record of the other workflow's later state file after this one's, and a failure there undoes nothing", () => {
    const later = stateOf(
      deprovisioned('d2-0', ['c']),
      finishRequest('d2-1', 'SUCCEEDED', undefined, [{ thingName: 'b', coreDeviceThingName: 'core-a' }], 'DEPROVISIONED'),
    );

    expect([...undoneSince(stateOf(finished('m1-0', ['a', 'b', 'c'], [])), PROVISIONING, DEPROVISIONING, later)]).toEqual(['c']);
  });

  it('lets resumeChunk send the undone devices again instead of counting them done', () => {
    const resumption = resumeChunk(chunk, stateOf(finished(chunk.requestId, ['a', 'b', 'c'], [])), 'PROVISIONED', new Set(['b']));

    expect(thingNamesOf(resumption.alreadyDone.map(({ planned }) => planned))).toEqual(['a', 'c']);
    expect(resumption.next).toMatchObject({ requestId: `${chunk.requestId}-r1`, attempt: 1 });
    expect(thingNamesOf(resumption.next?.devices)).toEqual(['b']);
  });
});
