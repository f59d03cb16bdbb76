import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { SERVICE_RESOURCES, type ServiceResources } from '@strongroom/platform';
import { AUDIT_CONFIG, type AuditConfig } from '../audit-config';
import { PeriodicJob } from '../periodic-job';
import { AuditPurge } from './audit-purge';

/** The first run after start: soon, but after the service has settled (its consumer caught up). */
const FIRST_RUN_DELAY_MS = 5 * 60_000;

/** Every AUDIT_PURGE_INTERVAL_SECONDS (default daily; 0: off): records past retention purged. */
@Injectable()
export class PurgeSchedule implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly job: PeriodicJob;

  constructor(
    private readonly purge: AuditPurge,
    @Inject(AUDIT_CONFIG) config: AuditConfig,
    @Inject(SERVICE_RESOURCES) private readonly resources: Pick<ServiceResources, 'logger'>,
  ) {
    this.job = new PeriodicJob(
      'purge',
      config.AUDIT_PURGE_INTERVAL_SECONDS * 1_000,
      () => this.runOnce(),
      resources.logger,
      FIRST_RUN_DELAY_MS,
    );
  }

  onApplicationBootstrap(): void {
    this.job.start();
  }

  onApplicationShutdown(): Promise<void> {
    this.purge.stop();
    return this.job.stop();
  }

  private async runOnce(): Promise<void> {
    const { tenants, records } = await this.purge.run();
    if (records > 0) this.resources.logger.info({ tenants, records }, 'audit records past retention purged');
  }
}
