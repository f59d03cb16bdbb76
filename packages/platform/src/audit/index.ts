export * from './audit-events';
export * from './audit-trail';
