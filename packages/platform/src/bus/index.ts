export * from './bus-client';
export * from './bus-server';
export * from './connection';
export * from './delivery';
export * from './handles';
export * from './request-context';
export * from './tls';
export * from './wire';
