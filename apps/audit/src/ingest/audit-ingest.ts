import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { SERVICE_RESOURCES, type ServiceResources } from '@strongroom/platform';
import { DataSource } from 'typeorm';
import { AuditMetrics } from '../audit-metrics';
import { AuditConsumer } from './audit-consumer';
import { AuditStore } from './audit-store';

/**
 * The ingest as the service runs it: the AUDIT stream's consumer storing into the chains, started
 * once the handlers are wired and stopped (its batch finished, the rest handed back) before the
 * database closes. Its readiness (`audit-store`) joins /health/ready.
 */
@Injectable()
export class AuditIngest implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly consumer: AuditConsumer;

  constructor(
    dataSource: DataSource,
    metrics: AuditMetrics,
    @Inject(SERVICE_RESOURCES) private readonly resources: ServiceResources,
  ) {
    this.consumer = new AuditConsumer({
      connection: resources.connection,
      store: new AuditStore(dataSource),
      logger: resources.logger,
      metrics,
    });
  }

  onApplicationBootstrap(): void {
    this.resources.readinessChecks?.set('audit-store', async () => this.consumer.consuming);
    this.consumer.start();
  }

  onApplicationShutdown(): Promise<void> {
    return this.consumer.stop();
  }
}
