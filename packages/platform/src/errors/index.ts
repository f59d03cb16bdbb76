export * from './domain-refusal';
export * from './platform-error';
export * from './zod-issues';
