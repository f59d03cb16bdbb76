import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { SERVICE_RESOURCES, type ServiceResources } from '@strongroom/platform';
import { AUDIT_CONFIG, type AuditConfig } from '../audit-config';
import { PeriodicJob } from '../periodic-job';
import { AuditCheckpoints } from './audit-checkpoints';

/** Every AUDIT_CHECKPOINT_INTERVAL_SECONDS (default 60 s): a signed checkpoint of every head that moved. */
@Injectable()
export class CheckpointSchedule implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly job: PeriodicJob;

  constructor(
    checkpoints: AuditCheckpoints,
    @Inject(AUDIT_CONFIG) config: AuditConfig,
    @Inject(SERVICE_RESOURCES) resources: Pick<ServiceResources, 'logger'>,
  ) {
    this.job = new PeriodicJob(
      'checkpoints',
      config.AUDIT_CHECKPOINT_INTERVAL_SECONDS * 1_000,
      () => checkpoints.sweep(),
      resources.logger,
    );
  }

  onApplicationBootstrap(): void {
    this.job.start();
  }

  onApplicationShutdown(): Promise<void> {
    return this.job.stop();
  }
}
