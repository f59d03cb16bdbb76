export { createLogger, type Logger, type LoggerOptions } from './create-logger';
export { REDACTED_KEYS, REDACTION_CENSOR, REDACTION_DEPTH_MAX, redactionPaths, redactString } from './redaction';
