export * from './bus-access';
export * from './contract';
export * from './errors';
export * from './headers';
export * from './health';
export * from './permissions';
export * from './services';
