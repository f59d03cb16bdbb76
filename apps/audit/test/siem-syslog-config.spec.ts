import { ConfigError } from '@strongroom/platform';
import type { NatsConnection } from 'nats';
import pino from 'pino';
import { loadSyslogForwarderConfig, SYSLOG_TLS_PORT_DEFAULT } from '../src/siem/syslog-config';
import { reconnectDelayMsOf } from '../src/siem/syslog-forwarder';
import { syslogForwardingProvider } from '../src/siem/syslog-forwarding.provider';

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadSyslogForwarderConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('syslog forwarder configuration', () => {
  it('is off when AUDIT_SYSLOG_URL is unset or empty', () => {
    expect(loadSyslogForwarderConfig({})).toBeUndefined();
    expect(loadSyslogForwarderConfig({ AUDIT_SYSLOG_URL: ' ' })).toBeUndefined();
  });

  it('defaults to port 6514, facility 13 (log audit), strongroom-audit, PEN 32473, 8192 octets, a 1 s ack delay', () => {
    const config = loadSyslogForwarderConfig({
      AUDIT_SYSLOG_URL: 'tls://siem.example.net',
      AUDIT_SYSLOG_HOSTNAME: 'a1',
    });

    expect(config).toEqual({
      target: { host: 'siem.example.net', port: SYSLOG_TLS_PORT_DEFAULT },
      format: {
        facility: 13,
        hostname: 'a1',
        appName: 'strongroom-audit',
        enterpriseNumber: '32473',
        messageBytesMax: 8_192,
      },
      ackDelayMs: 1_000,
      reconnectDelayMsMin: 500,
      reconnectDelayMsMax: 30_000,
    });
  });

  it('reads every variable', () => {
    const config = loadSyslogForwarderConfig({
      AUDIT_SYSLOG_URL: 'tls://[2001:db8::5]:7514',
      AUDIT_SYSLOG_CA_FILE: '/etc/siem/ca.crt',
      AUDIT_SYSLOG_CERT_FILE: '/etc/siem/client.crt',
      AUDIT_SYSLOG_KEY_FILE: '/etc/siem/client.key',
      AUDIT_SYSLOG_APP_NAME: 'vault-audit',
      AUDIT_SYSLOG_HOSTNAME: 'audit-2.example.net',
      AUDIT_SYSLOG_FACILITY: '10',
      AUDIT_SYSLOG_ENTERPRISE_NUMBER: '55555',
      AUDIT_SYSLOG_MESSAGE_BYTES_MAX: '2048',
      AUDIT_SYSLOG_ACK_DELAY_MS: '0',
    });

    expect(config?.target).toEqual({
      host: '2001:db8::5',
      port: 7514,
      caFile: '/etc/siem/ca.crt',
      certFile: '/etc/siem/client.crt',
      keyFile: '/etc/siem/client.key',
    });
    expect(config?.format).toEqual({
      facility: 10,
      hostname: 'audit-2.example.net',
      appName: 'vault-audit',
      enterpriseNumber: '55555',
      messageBytesMax: 2_048,
    });
    expect(config?.ackDelayMs).toBe(0);
  });

  it.each([
    ['udp://siem:514', 'AUDIT_SYSLOG_URL'],
    ['tcp://siem:601', 'AUDIT_SYSLOG_URL'],
    ['siem.example.net:6514', 'AUDIT_SYSLOG_URL'],
    ['tls://user:secret@siem:6514', 'AUDIT_SYSLOG_URL'],
    ['tls://siem:6514/path', 'AUDIT_SYSLOG_URL'],
    ['tls://siem:0', 'AUDIT_SYSLOG_URL'],
  ])('refuses the URL %s, naming %s and never echoing it', (url, variable) => {
    const problems = problemsOf({ AUDIT_SYSLOG_URL: url });

    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${variable}: `));
    expect(problems[0]).not.toContain('secret');
  });

  it.each([
    ['AUDIT_SYSLOG_FACILITY', '24'],
    ['AUDIT_SYSLOG_FACILITY', 'audit'],
    ['AUDIT_SYSLOG_ENTERPRISE_NUMBER', 'example'],
    ['AUDIT_SYSLOG_APP_NAME', 'strongroom audit'],
    ['AUDIT_SYSLOG_APP_NAME', 'a'.repeat(49)],
    ['AUDIT_SYSLOG_HOSTNAME', 'höst'],
    ['AUDIT_SYSLOG_MESSAGE_BYTES_MAX', '1024'],
    ['AUDIT_SYSLOG_ACK_DELAY_MS', '60000'],
  ])('refuses %s=%s', (variable, value) => {
    const problems = problemsOf({ AUDIT_SYSLOG_URL: 'tls://siem:6514', [variable]: value });

    expect(problems).toEqual([expect.stringMatching(new RegExp(`^${variable}: `))]);
  });

  it('refuses a client certificate without its key, and a key without its certificate', () => {
    expect(problemsOf({ AUDIT_SYSLOG_URL: 'tls://siem', AUDIT_SYSLOG_CERT_FILE: '/c.crt' })).toEqual([
      expect.stringMatching(/^AUDIT_SYSLOG_KEY_FILE: /),
    ]);
    expect(problemsOf({ AUDIT_SYSLOG_URL: 'tls://siem', AUDIT_SYSLOG_KEY_FILE: '/c.key' })).toEqual([
      expect.stringMatching(/^AUDIT_SYSLOG_CERT_FILE: /),
    ]);
  });

  it('refuses a syslog variable set without AUDIT_SYSLOG_URL: a half-configured forwarder would forward nothing', () => {
    expect(problemsOf({ AUDIT_SYSLOG_CA_FILE: '/etc/siem/ca.crt' })).toEqual([
      'AUDIT_SYSLOG_CA_FILE: is set but AUDIT_SYSLOG_URL is not',
    ]);
  });
});

describe('reconnection back-off', () => {
  it('doubles from the minimum up to the maximum, within ±20 % jitter', () => {
    const middle = () => 0.5;
    expect([0, 1, 2, 3, 10, 100].map((attempt) => reconnectDelayMsOf(attempt, 500, 30_000, middle))).toEqual([
      500, 1_000, 2_000, 4_000, 30_000, 30_000,
    ]);
    expect(reconnectDelayMsOf(0, 1_000, 30_000, () => 0)).toBe(800);
    expect(reconnectDelayMsOf(0, 1_000, 30_000, () => 0.999_999)).toBe(1_200);
  });
});

describe('syslog forwarding in the module', () => {
  it('does nothing when AUDIT_SYSLOG_URL is unset', async () => {
    const logger = pino({ level: 'silent' });
    const connection = {} as NatsConnection;
    const forwarding = await syslogForwardingProvider({}).useFactory({ connection, logger } as never);

    await forwarding.onModuleInit();
    await forwarding.onModuleDestroy();

    expect(forwarding.enabled).toBe(false);
  });

  it('stops the service at start when a syslog variable is malformed', () => {
    const provider = syslogForwardingProvider({ AUDIT_SYSLOG_URL: 'udp://siem:514' });

    expect(() => provider.useFactory({ connection: {}, logger: pino({ level: 'silent' }) } as never)).toThrow(
      ConfigError,
    );
  });
});
