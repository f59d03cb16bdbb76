import { Counter, Registry } from 'prom-client';

/**
 * The audit pipeline's own figures: events stored, duplicates dropped (redeliveries), messages
 * terminated for breaking the contract, batches the database refused.
 */
export class AuditMetrics {
  readonly eventsStored: Counter;
  readonly duplicatesDropped: Counter;
  readonly messagesRefused: Counter<'refusal'>;
  readonly batchesFailed: Counter;

  constructor(readonly registry: Registry = new Registry()) {
    this.eventsStored = new Counter({
      name: 'strongroom_audit_events_stored_total',
      help: 'Audit events stored in a tenant chain',
      registers: [registry],
    });
    this.duplicatesDropped = new Counter({
      name: 'strongroom_audit_events_duplicate_total',
      help: 'Audit events delivered again after they were stored (not stored twice)',
      registers: [registry],
    });
    this.messagesRefused = new Counter({
      name: 'strongroom_audit_messages_refused_total',
      help: 'AUDIT stream messages terminated because they break the audit message contract, by reason',
      labelNames: ['refusal'],
      registers: [registry],
    });
    this.batchesFailed = new Counter({
      name: 'strongroom_audit_batches_failed_total',
      help: 'Batches of audit events the database refused (delivered again later)',
      registers: [registry],
    });
  }
}
