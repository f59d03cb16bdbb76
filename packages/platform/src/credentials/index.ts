export * from './access-token-verifier';
export * from './jwks-cache';
export * from './principal';
export * from './process-credentials';
export * from './revocation-feed';
export * from './revocation-list';
export * from './service-credentials';
export * from './tenant-access';
