export {
  type BusMetrics,
  type BusRequestOutcome,
  type BusSide,
  createBusMetrics,
  createHttpMetrics,
  createMetricsRegistry,
  type HttpMetrics,
  type MetricsRegistryOptions,
} from './metrics-registry';
