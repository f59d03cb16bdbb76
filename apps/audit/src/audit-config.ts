import { loadConfig } from '@strongroom/platform';
import { z } from 'zod';

const DAY_SECONDS = 86_400;

/**
 * The audit service's own variables, beside every backend's (backendConfigSchema, read by
 * runBackendService). Validated at start: a malformed value stops the process naming it.
 */
export const auditConfigSchema = z.object({
  /** How often heads that moved are checkpointed (signed); 0 turns the periodic checkpoints off. */
  AUDIT_CHECKPOINT_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(DAY_SECONDS).default(60),
  /** How often records past their tenant's retention are purged; 0 turns the purge job off. */
  AUDIT_PURGE_INTERVAL_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(7 * DAY_SECONDS)
    .default(DAY_SECONDS),
});
export type AuditConfig = z.infer<typeof auditConfigSchema>;

/** Nest injection token of the audit configuration. */
export const AUDIT_CONFIG = Symbol.for('strongroom.audit-config');

export function loadAuditConfig(env: NodeJS.ProcessEnv = process.env): AuditConfig {
  // A copy: process.env is not a plain object.
  return loadConfig('audit', auditConfigSchema, { ...env });
}
