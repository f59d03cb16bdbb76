import type { HealthReport } from '@strongroom/contracts';
import { type ReadinessCheck, readiness } from '../health/ops-server';
import type { ServiceResources } from './service-resources';

const CHECK_TIMEOUT_MS = 1_000;

/** What a service needs to serve requests: the bus, and its database when it owns one. */
export function dependencyChecks(resources: ServiceResources): Record<string, ReadinessCheck> {
  const checks: Record<string, ReadinessCheck> = {
    bus: async () => {
      if (resources.connection.isClosed()) return false;
      await resources.connection.flush();
      return true;
    },
  };
  const { dataSource } = resources;
  if (dataSource) {
    checks.db = async () => {
      await dataSource.query('SELECT 1');
      return true;
    };
  }
  for (const [name, check] of resources.readinessChecks ?? []) checks[name] = check;
  return checks;
}

/** The answer to `<service>.v1.health.check`: the same checks as the ops server's readiness. */
export async function reportHealth(resources: ServiceResources): Promise<HealthReport> {
  const report = await readiness(resources.service, dependencyChecks(resources), CHECK_TIMEOUT_MS);
  return {
    service: resources.service,
    status: report.status,
    version: resources.version,
    uptimeSeconds: Math.round((Date.now() - resources.startedAtMs) / 1000),
    checks: report.checks,
  };
}
