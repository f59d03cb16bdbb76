import type { FactoryProvider, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { SERVICE_RESOURCES, type ServiceResources } from '@strongroom/platform';
import { loadSyslogForwarderConfig, type SyslogForwarderConfig } from './syslog-config';
import { SyslogForwarder } from './syslog-forwarder';

/**
 * The syslog forwarder in the audit service's lifecycle: started with the module when
 * AUDIT_SYSLOG_URL is set (a malformed variable, an unreadable TLS file or a refused consumer
 * stops the service at start), stopped with it; nothing at all when the variable is unset.
 */
export class SyslogForwarding implements OnModuleInit, OnModuleDestroy {
  private readonly forwarder: SyslogForwarder | undefined;

  constructor(
    private readonly resources: Pick<ServiceResources, 'connection' | 'logger'>,
    config: SyslogForwarderConfig | undefined,
  ) {
    this.forwarder =
      config === undefined
        ? undefined
        : new SyslogForwarder({ connection: resources.connection, logger: resources.logger, config });
  }

  get enabled(): boolean {
    return this.forwarder !== undefined;
  }

  async onModuleInit(): Promise<void> {
    if (!this.forwarder) {
      this.resources.logger.info('AUDIT_SYSLOG_URL is unset: no syslog forwarding');
      return;
    }
    await this.forwarder.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.forwarder?.stop();
  }
}

/** The provider to list in the audit module; reads the AUDIT_SYSLOG_* variables once, at start. */
export function syslogForwardingProvider(env: NodeJS.ProcessEnv = process.env): FactoryProvider<SyslogForwarding> {
  return {
    provide: SyslogForwarding,
    inject: [SERVICE_RESOURCES],
    useFactory: (resources: ServiceResources) => new SyslogForwarding(resources, loadSyslogForwarderConfig(env)),
  };
}
