export * from './ip-allowlist';
