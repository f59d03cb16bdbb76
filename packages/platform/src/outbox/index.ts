export * from './enqueue-event';
export * from './event-streams';
export * from './outbox-relay';
export * from './outbox-sql';
export * from './outbox-migration';
