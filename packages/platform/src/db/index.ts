export * from './data-source';
export * from './identifiers';
export * from './migration-sql';
export * from './provision';
export * from './tenant-context';
