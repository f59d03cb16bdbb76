import { checkedEnvironmentChange, effectiveRatePlan } from '../src/environments/environment-rules';

describe('environment rules', () => {
  it("applies an environment's own plan only below the tenant's", () => {
    expect(effectiveRatePlan(null, 'standard')).toBe('standard');
    expect(effectiveRatePlan('basic', 'standard')).toBe('basic');
    expect(effectiveRatePlan('premium', 'standard')).toBe('standard');
  });

  it("refuses a plan above the tenant's and makes the allowlist canonical", () => {
    expect(() => checkedEnvironmentChange({ ratePlan: 'premium' }, 'standard')).toThrow(
      expect.objectContaining({ code: 'FORBIDDEN' }),
    );
    expect(checkedEnvironmentChange({ ratePlan: null, ipAllowlist: ['10.0.0.0/8', '10.0.0.0/8'] }, 'basic')).toEqual({
      ratePlan: null,
      ipAllowlist: ['10.0.0.0/8'],
    });
    expect(checkedEnvironmentChange({}, 'basic')).toEqual({});
    expect(() => checkedEnvironmentChange({ ipAllowlist: ['10.0.0.1/8'] }, 'basic')).toThrow(
      expect.objectContaining({ code: 'VALIDATION' }),
    );
  });
});
