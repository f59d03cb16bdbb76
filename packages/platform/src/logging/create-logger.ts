import { context, trace } from '@opentelemetry/api';
import pino, { type DestinationStream, type Level, type Logger } from 'pino';
import { REDACTION_CENSOR, redactionPaths, redactString } from './redaction';

export type { Logger } from 'pino';

export interface LoggerOptions {
  service: string;
  /** Defaults to `info`; from LOG_LEVEL in services. */
  level?: Level | 'silent';
  /** Defaults to stdout (fd 1), written synchronously so a crash does not lose its last lines. */
  destination?: DestinationStream;
}

// Computed once: pino compiles the redaction paths when the logger is built.
const PATHS = redactionPaths();

/**
 * JSON logs, one object per line, that carry the active trace and never the secrets we know of:
 * values under sensitive keys are censored, and bearer tokens, JWTs, API keys and card numbers
 * are masked in string arguments (the message included).
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      // `service` on every line; pid/hostname add nothing in a container and cost bytes per line.
      base: { service: options.service },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level as a label so a log search reads `level:"error"`, not `level:50`.
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: PATHS, censor: REDACTION_CENSOR, remove: false },
      // Error messages and stacks are free text: a driver error may quote a URL or a token.
      serializers: { err: serializeError },
      mixin: traceFields,
      hooks: {
        logMethod(args, method) {
          const masked = args.map((arg) => (typeof arg === 'string' ? redactString(arg) : arg));
          method.apply(this, masked as Parameters<typeof method>);
        },
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/**
 * Fields a database error carries that hold the data of the statement: TypeORM's QueryFailedError
 * copies the SQL, its parameters (a ledger batch: every transfer's amounts, references and
 * metadata) and Postgres's `detail` ("Key (code)=(…)", "Failing row contains (…)"). A log keeps
 * the SQLSTATE, the table and the constraint, which say what failed without saying on what.
 */
const STATEMENT_DATA_FIELDS = ['query', 'parameters', 'driverError', 'detail', 'where', 'internalQuery'] as const;

function serializeError(error: unknown): unknown {
  const serialized = pino.stdSerializers.err(error as Error);
  if (typeof serialized !== 'object' || serialized === null) return serialized;
  const safe: Record<string, unknown> = {
    ...serialized,
    message: typeof serialized.message === 'string' ? redactString(serialized.message) : serialized.message,
    stack: typeof serialized.stack === 'string' ? redactString(serialized.stack) : serialized.stack,
  };
  for (const field of STATEMENT_DATA_FIELDS) delete safe[field];
  return safe;
}

/** Trace and span ids of the active OTel span, so a log line links to its trace in Jaeger. */
function traceFields(): Record<string, string> {
  const spanContext = trace.getSpanContext(context.active());
  if (!spanContext || !trace.isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}
