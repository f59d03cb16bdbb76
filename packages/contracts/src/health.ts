import { z } from 'zod';
import { defineRequest, type RequestContract } from './contract';
import { BACKEND_SERVICES, type BackendServiceName } from './services';

export const componentStatusSchema = z.enum(['up', 'down']);

export const healthReportSchema = z.object({
  service: z.string(),
  status: componentStatusSchema,
  version: z.string(),
  uptimeSeconds: z.number().nonnegative(),
  /** Each dependency the service needs to serve requests (database, bus, ...). */
  checks: z.record(z.string(), componentStatusSchema),
});
export type HealthReport = z.infer<typeof healthReportSchema>;

export const healthRequestSchema = z.object({}).strict();

function healthCheckOf<S extends BackendServiceName>(service: S) {
  return defineRequest({
    subject: `${service}.v1.health.check`,
    request: healthRequestSchema,
    response: healthReportSchema,
    permission: 'platform.health.read',
    // Public: nats-server's permission map already restricts who may publish a health check.
    authentication: 'none',
    summary: `Health of the ${service} service and its dependencies`,
  });
}

export type HealthCheckContract = RequestContract<string, typeof healthRequestSchema, typeof healthReportSchema>;

export const healthCheck = Object.fromEntries(BACKEND_SERVICES.map((s) => [s, healthCheckOf(s)])) as {
  [S in BackendServiceName]: RequestContract<
    `${S}.v1.health.check`,
    typeof healthRequestSchema,
    typeof healthReportSchema
  >;
};
