export * from './syslog-config';
export * from './syslog-format';
export * from './syslog-forwarder';
export * from './syslog-forwarding.provider';
export * from './syslog-link';
