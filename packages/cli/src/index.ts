export * from './nats/config';
export * from './nats/nats-server-binary';
export * from './pki/certificates';
export * from './pki/pki';
export * from './postgres/embedded-postgres';
export * from './up/seed-demo';
export * from './up/stack';
