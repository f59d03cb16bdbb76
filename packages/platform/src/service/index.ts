export * from './health-controller';
export * from './health-report';
export * from './nest-logger';
export * from './platform.module';
export * from './service-resources';
export * from './shutdown';
export * from './run-backend-service';
