import { ConfigError } from '@strongroom/platform';
import { loadAuditConfig } from '../src/audit-config';

describe('the audit service configuration', () => {
  it('checkpoints every minute and purges daily by default', () => {
    expect(loadAuditConfig({})).toEqual({
      AUDIT_CHECKPOINT_INTERVAL_SECONDS: 60,
      AUDIT_PURGE_INTERVAL_SECONDS: 86_400,
    });
  });

  it('turns a job off with 0', () => {
    expect(loadAuditConfig({ AUDIT_PURGE_INTERVAL_SECONDS: '0', AUDIT_CHECKPOINT_INTERVAL_SECONDS: '0' })).toEqual({
      AUDIT_CHECKPOINT_INTERVAL_SECONDS: 0,
      AUDIT_PURGE_INTERVAL_SECONDS: 0,
    });
  });

  it.each([
    ['AUDIT_CHECKPOINT_INTERVAL_SECONDS', 'soon'],
    ['AUDIT_CHECKPOINT_INTERVAL_SECONDS', '-1'],
    ['AUDIT_PURGE_INTERVAL_SECONDS', '1.5'],
    ['AUDIT_PURGE_INTERVAL_SECONDS', String(8 * 86_400)],
  ])('stops the process naming %s when it is %s', (variable, value) => {
    expect(() => loadAuditConfig({ [variable]: value })).toThrow(ConfigError);
    expect(() => loadAuditConfig({ [variable]: value })).toThrow(new RegExp(variable));
  });
});
