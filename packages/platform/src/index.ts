export * from './bus';
export * from './config';
export * from './errors';
export * from './health';
export * from './logging';
export * from './metrics';
export * from './service';
export * from './telemetry';
