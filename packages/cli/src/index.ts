export * from './nats/config';
export * from './pki/certificates';
export * from './pki/pki';
export * from './nats/nats-server-binary';
export * from './postgres/embedded-postgres';
export * from './up/stack';
