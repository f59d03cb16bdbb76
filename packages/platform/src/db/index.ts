export * from './data-source';
export * from './identifiers';
export * from './migration-sql';
export * from './provision';
export * from './sql-errors';
export * from './tenant-context';
