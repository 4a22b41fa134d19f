import { describe, expect, it } from 'vitest';
import { type DeviceReportEntry, deviceReportCsv, failureCounts } from '../../../../functions/domain/fleet-report.ts';

const HEADER =
  'line,index,thingName,status,coreDeviceThingName,requestId,resumed,thingArn,certificateArn,errorStep,errorCode,errorMessage,rolledBack,rollbackIncomplete';

const done: DeviceReportEntry = {
  index: 0,
  line: 2,
  thingName: 'a',
  status: 'PROVISIONED',
  coreDeviceThingName: 'core-a',
  requestId: 'r-0',
  resumed: true,
  thingArn: 'arn:thing/a',
  certificateArn: 'arn:cert/a',
};
const rolledBack: DeviceReportEntry = {
  index: 1,
  line: 3,
  thingName: 'b',
  status: 'FAILED',
  coreDeviceThingName: 'core-a',
  requestId: 'r-0',
  error: { step: 'associate', code: 'ResourceNotFoundException', message: 'no core' },
  rollback: { thingDeleted: true, detachedPrincipals: ['arn:cert/b', 'arn:cert/c'], certificateDeleted: true },
};
const stoppedRollback: DeviceReportEntry = {
  index: 2,
  thingName: 'c',
  status: 'FAILED',
  requestId: 'r-0',
  error: { step: 'attach', code: 'Throttling', message: 'slow down' },
  rollback: {
    thingDeleted: false,
    detachedPrincipals: [],
    certificateDeleted: false,
    incomplete: { step: 'rollback', code: 'AccessDenied', message: 'no delete' },
  },
};
const nothingToUndo: DeviceReportEntry = {
  index: 3,
  thingName: 'd',
  status: 'FAILED',
  requestId: 'r-0',
  error: { step: 'attach', code: 'Throttling', message: 'slow down' },
  rollback: { thingDeleted: false, detachedPrincipals: [], certificateDeleted: false },
};

describe("a fleet report's CSV", () => {
  it('has one row per device under the header: what was done, the error, what the rollback undid and where it stopped', () => {
    expect(deviceReportCsv([done, rolledBack, stoppedRollback, nothingToUndo]).split('\n')).toEqual([
      HEADER,
      '2,0,a,PROVISIONED,core-a,r-0,true,arn:thing/a,arn:cert/a,,,,,',
      '3,1,b,FAILED,core-a,r-0,false,,,associate,ResourceNotFoundException,no core,thing deleted; detached arn:cert/b arn:cert/c; certificate deleted,',
      ',2,c,FAILED,,r-0,false,,,attach,Throttling,slow down,,AccessDenied: no delete',
      ',3,d,FAILED,,r-0,false,,,attach,Throttling,slow down,nothing to undo,',
      '',
    ]);
  });

  it('written in parts, has the header only where asked', () => {
    expect(deviceReportCsv([done], { header: false })).toBe('2,0,a,PROVISIONED,core-a,r-0,true,arn:thing/a,arn:cert/a,,,,,\n');
  });
});

describe('failureCounts', () => {
  it('counts the failed devices by step and code', () => {
    expect(failureCounts([done, rolledBack, stoppedRollback, nothingToUndo])).toEqual({
      'associate ResourceNotFoundException': 1,
      'attach Throttling': 2,
    });
  });
});
