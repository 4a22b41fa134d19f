import { describe, expect, it } from 'vitest';
import { checkAssumptions } from '../../../scripts/check-assumptions.ts';
import { useServiceCloud } from '../../support/service-cloud.ts';

/**
 * The probes that check the local cloud's assumptions against a real account, run against the local cloud
 * itself: every one must hold there (or the emulator does not do what docs/local-cloud.md says), and the
 * probes must leave nothing behind, as they must in a real account.
 */
describe('npm run check-assumptions, against the local cloud', () => {
  const cloud = useServiceCloud();

  it('finds every assumption holding, and removes what it created', async () => {
    const results = await checkAssumptions({ iot: cloud.iot, greengrass: cloud.greengrass, coreDeviceThingName: 'core-a' });

    expect(results.map(({ assumption }) => assumption)).toEqual(['1', '2', '21', '7', '9', '1', 'workflow', '11']);
    expect(results.filter((result) => !result.holds)).toEqual([]);
    expect(cloud.clientThings()).toEqual([]);
    expect(cloud.cloud.admin.state().certificates).toEqual([]);
  });
});
