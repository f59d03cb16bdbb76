export {
  type BusSpan,
  extractTraceContext,
  injectTraceHeaders,
  startBusClientSpan,
  startBusServerSpan,
  traceIdOf,
} from './bus-tracing';
export { startTelemetry, type Telemetry, TelemetryError, type TelemetryOptions } from './start-telemetry';
