import { Controller, Get, Inject, Res } from '@nestjs/common';
import { BACKEND_SERVICES, type BackendServiceName, healthCheck } from '@strongroom/contracts';
import { PlatformError, SERVICE_RESOURCES, type ServiceResources } from '@strongroom/platform';
import type { FastifyReply } from 'fastify';
import type { GatewayConfig } from '../gateway-config';
import { GATEWAY_CONFIG } from '../gateway-tokens';
import { type PlatformHealth, summarizeHealth } from './platform-health';

@Controller()
export class HealthController {
  constructor(
    @Inject(SERVICE_RESOURCES) private readonly resources: ServiceResources,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  /** The state of every service, asked over the bus in parallel; 503 when any is down. */
  @Get('health')
  async health(@Res({ passthrough: true }) reply: FastifyReply): Promise<PlatformHealth> {
    const answers = await Promise.all(BACKEND_SERVICES.map((service) => this.ask(service)));
    const summary = summarizeHealth(answers);
    void reply.status(summary.status === 'up' ? 200 : 503);
    return summary;
  }

  private async ask(service: BackendServiceName) {
    try {
      const report = await this.resources.bus.request(
        healthCheck[service],
        {},
        { timeoutMs: this.config.HEALTH_TIMEOUT_MS },
      );
      return { service, report } as const;
    } catch (error) {
      const code = error instanceof PlatformError ? error.code : 'INTERNAL';
      return { service, error: code } as const;
    }
  }
}
