export * from './nats/config';
export * from './pki/certificates';
export * from './pki/pki';
