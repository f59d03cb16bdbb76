export * from './access-token-verifier';
export * from './jwks-cache';
export * from './principal';
export * from './revocation-feed';
export * from './revocation-list';
