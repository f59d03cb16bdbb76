export * from './health-controller';
export * from './health-report';
export * from './nest-logger';
export * from './open-secrets';
export * from './platform.module';
export * from './run-backend-service';
export * from './service-resources';
export * from './shutdown';
