import { type DynamicModule, Module } from '@nestjs/common';
import type { GatewayConfig } from './gateway-config';
import { GATEWAY_CONFIG } from './gateway-tokens';
import { HealthController } from './health/health.controller';

@Module({})
export class GatewayModule {
  static withConfig(config: GatewayConfig): DynamicModule {
    return {
      module: GatewayModule,
      controllers: [HealthController],
      providers: [{ provide: GATEWAY_CONFIG, useValue: config }],
    };
  }
}
