export * from './free-port';
export * from './nats';
export * from './vault-standin';
export * from './postgres';
