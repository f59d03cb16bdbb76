import type { BackendServiceName, ErrorCode, HealthReport } from '@strongroom/contracts';

export type ServiceAnswer =
  | { readonly service: BackendServiceName; readonly report: HealthReport }
  | { readonly service: BackendServiceName; readonly error: ErrorCode };

export interface PlatformHealth {
  status: 'up' | 'down';
  services: Record<
    string,
    { status: 'up' | 'down'; version?: string; checks?: Record<string, string>; error?: ErrorCode }
  >;
}

/** The platform is up only when every service answered and reported itself up. */
export function summarizeHealth(answers: readonly ServiceAnswer[]): PlatformHealth {
  const services: PlatformHealth['services'] = {};
  for (const answer of answers) {
    services[answer.service] =
      'report' in answer
        ? { status: answer.report.status, version: answer.report.version, checks: answer.report.checks }
        : { status: 'down', error: answer.error };
  }
  const status = Object.values(services).every((s) => s.status === 'up') ? 'up' : 'down';
  return { status, services };
}
