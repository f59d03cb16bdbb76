export * from './enqueue-event';
export * from './event-streams';
export * from './outbox-migration';
export * from './outbox-relay';
export * from './outbox-sql';
