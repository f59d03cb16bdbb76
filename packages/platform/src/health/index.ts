export {
  type ComponentStatus,
  type OpsServer,
  type OpsServerOptions,
  type ReadinessCheck,
  type ReadinessReport,
  readiness,
  startOpsServer,
} from './ops-server';
