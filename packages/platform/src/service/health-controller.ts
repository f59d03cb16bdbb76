import { Controller, Inject, type Type } from '@nestjs/common';
import {
  type BackendServiceName,
  type HealthCheckContract,
  type HealthReport,
  healthCheck,
} from '@strongroom/contracts';
import { Handles } from '../bus/handles';
import { reportHealth } from './health-report';
import { SERVICE_RESOURCES, type ServiceResources } from './service-resources';

/** The `<service>.v1.health.check` handler every backend service answers. */
export function healthControllerFor(service: BackendServiceName): Type<unknown> {
  const contract: HealthCheckContract = healthCheck[service];

  @Controller()
  class HealthController {
    constructor(@Inject(SERVICE_RESOURCES) private readonly resources: ServiceResources) {}

    @Handles(contract)
    check(): Promise<HealthReport> {
      return reportHealth(this.resources);
    }
  }
  return HealthController;
}
