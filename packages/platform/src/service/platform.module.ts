import { type DynamicModule, Global, Module, type Type } from '@nestjs/common';
import { SERVICE_RESOURCES, type ServiceResources } from './service-resources';

@Global()
@Module({})
class PlatformResourcesModule {}

/** The root module of a service process: the platform's resources (global) plus the service's own module. */
export function serviceRootModule(
  serviceModule: Type<unknown> | DynamicModule,
  resources: ServiceResources,
): DynamicModule {
  const platform: DynamicModule = {
    module: PlatformResourcesModule,
    global: true,
    providers: [{ provide: SERVICE_RESOURCES, useValue: resources }],
    exports: [SERVICE_RESOURCES],
  };
  return { module: ServiceRootModule, imports: [platform, serviceModule] };
}

@Module({})
class ServiceRootModule {}
