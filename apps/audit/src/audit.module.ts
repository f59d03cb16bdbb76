import { Module } from '@nestjs/common';
import { dataSourceOf, healthControllerFor, SERVICE_RESOURCES, type ServiceResources } from '@strongroom/platform';
import { DataSource } from 'typeorm';
import { AUDIT_CONFIG, loadAuditConfig } from './audit-config';
import { AuditMetrics } from './audit-metrics';
import { AuditCheckpoints } from './checkpoints/audit-checkpoints';
import { CheckpointSchedule } from './checkpoints/checkpoint-schedule';
import { CheckpointSigner } from './checkpoints/checkpoint-signer';
import { CheckpointsHandler } from './checkpoints/checkpoints.handler';
import { AuditExports } from './exports/audit-exports';
import { ExportsHandler } from './exports/exports.handler';
import { AuditIngest } from './ingest/audit-ingest';
import { RecordsHandler } from './records/records.handler';
import { RecordsRepository } from './records/records.repository';
import { AuditPurge } from './retention/audit-purge';
import { LegalHoldsHandler } from './retention/legal-holds.handler';
import { LegalHoldsRepository } from './retention/legal-holds.repository';
import { PurgeSchedule } from './retention/purge-schedule';
import { TenantRetention } from './retention/tenant-retention';
import { syslogForwardingProvider } from './siem';

/**
 * The audit service (issue 7, docs/audit.md): stores the AUDIT stream in per-tenant hash chains
 * (ingest/), signs checkpoints (checkpoints/), answers queries and verification (records/,
 * verification/) and exports (exports/), keeps records for their retention under legal holds
 * (retention/), and optionally forwards every event to a SIEM as syslog (siem/). Its own actions
 * are audit events through its outbox, which the platform's relay publishes (runBackendService).
 */
@Module({
  controllers: [healthControllerFor('audit'), RecordsHandler, CheckpointsHandler, ExportsHandler, LegalHoldsHandler],
  providers: [
    { provide: AUDIT_CONFIG, useFactory: () => loadAuditConfig() },
    { provide: DataSource, inject: [SERVICE_RESOURCES], useFactory: dataSourceOf },
    {
      provide: AuditMetrics,
      inject: [SERVICE_RESOURCES],
      useFactory: (resources: ServiceResources) => new AuditMetrics(resources.metrics),
    },
    CheckpointSigner,
    AuditCheckpoints,
    CheckpointSchedule,
    RecordsRepository,
    AuditExports,
    LegalHoldsRepository,
    TenantRetention,
    AuditPurge,
    PurgeSchedule,
    AuditIngest,
    // RFC 5424 syslog over TLS to a SIEM, when AUDIT_SYSLOG_URL is set (docs/siem.md).
    syslogForwardingProvider(),
  ],
})
export class AuditModule {}
