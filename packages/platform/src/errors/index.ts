export * from './platform-error';
export * from './zod-issues';
