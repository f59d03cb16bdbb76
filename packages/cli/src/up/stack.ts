import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BACKEND_SERVICES,
  type BackendServiceName,
  healthCheck,
  OPERATOR_IDENTITY,
  type ServiceName,
} from '@strongroom/contracts';
import {
  BusClient,
  busTlsFilesFor,
  connectBus,
  DEFAULT_OPS_PORTS,
  ensureEventStreams,
  provisionServiceDatabase,
  serviceCredentialsOverBus,
} from '@strongroom/platform';
import type { NatsConnection } from 'nats';
import { renderNatsServerConfig } from '../nats/config';
import { findNatsServerBinary } from '../nats/nats-server-binary';
import { initPki, pkiPaths } from '../pki/pki';
import { type RunningPostgres, startEmbeddedPostgres } from '../postgres/embedded-postgres';
import { LocalCredentialStore } from './local-credentials';
import { type ManagedProcess, ProcessGroup, type SpawnSpec } from './process-group';
import { type DemoTenant, seedDemoTenant } from './seed-demo';
import { waitFor } from './wait-for';

export interface StackOptions {
  /** The monorepo root (apps are started from their built `dist/`). */
  rootDir: string;
  stateDir: string;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
}

export interface RunningStack {
  gatewayUrl: string;
  demo: DemoTenant;
  natsUrl: string;
  databaseAdminUrl: string;
  /** The environment the gateway runs with (a second replica started with it shares its database). */
  gatewayEnv: NodeJS.ProcessEnv;
  /** Resolves when a child died unexpectedly (its name), so the caller can stop everything. */
  failed: Promise<string>;
  pidOf(name: string): number | undefined;
  /**
   * Kills a service (`killWith` SIGTERM: a graceful stop; SIGKILL: a crash) unless it already
   * exited, starts it again with the same command and environment, and resolves when it answers
   * its health check. The kill is asked for: it does not resolve `failed` (a death of the new
   * process does). `nats-server` restarts the bus (JetStream state is on disk): it resolves when
   * the server accepts TLS clients and answers JetStream again; services reconnect by themselves.
   */
  restart(service: BackendServiceName | 'nats-server', options?: { killWith?: NodeJS.Signals }): Promise<void>;
  /** Stops everything; resolves with each child's exit code (0: it shut down cleanly) or signal. */
  stop(): Promise<Record<string, number | NodeJS.Signals>>;
}

const TIERS = { bus: 0, services: 1, gateway: 2 } as const;
const SERVICE_READY_TIMEOUT_MS = 60_000;
/** How long a restarted service may take to stop after SIGTERM before it is killed. */
const RESTART_GRACE_MS = 10_000;

/**
 * The whole platform on one machine: PKI, Postgres (DATABASE_URL or embedded), a TLS
 * nats-server with JetStream, one process per service and the gateway. Idempotent over the
 * state dir: a second start reuses certificates, data and passwords.
 */
export async function startStack(options: StackOptions): Promise<RunningStack> {
  const { env, log, stateDir } = options;
  const logDir = join(stateDir, 'logs');
  mkdirSync(logDir, { recursive: true, mode: 0o700 });
  const credentials = new LocalCredentialStore(stateDir);
  let onFailure: (name: string) => void = () => {};
  let deadChild: string | undefined;
  const failed = new Promise<string>((resolve) => {
    onFailure = (name) => {
      deadChild ??= name;
      resolve(name);
    };
  });
  /** Startup waits give up at once when a child died (e.g. its port was taken). */
  const unlessAChildDied =
    <T>(attempt: () => Promise<T>) =>
    async () => {
      if (deadChild !== undefined) throw new StartupError(`${deadChild} exited during start`);
      return attempt();
    };
  /** Services being killed by `restart`: their exit was asked for. */
  const restarting = new Set<string>();
  const processes = new ProcessGroup(logDir, (name, code) => {
    if (restarting.has(name)) return;
    log(`${name} exited unexpectedly (${code}); its log: ${join(logDir, `${name}.log`)}`);
    const tail = safeTail(join(logDir, `${name}.log`));
    if (tail) log(tail);
    onFailure(name);
  });
  /** The latest process of each child and how it was started (a restart replaces the process). */
  const children = new Map<string, { spec: SpawnSpec; managed: ManagedProcess }>();
  const spawnChild = (spec: SpawnSpec) => {
    const managed = processes.spawn(spec);
    children.set(spec.name, { spec, managed });
    return managed;
  };
  let postgres: RunningPostgres | undefined;
  let admin: NatsConnection | undefined;
  let stopping = false;
  const stop = async () => {
    stopping = true;
    const outcomes = await processes.stopAll();
    await admin?.close().catch(() => {});
    await postgres?.stop().catch(() => {});
    return outcomes;
  };

  try {
    log('PKI: internal CA and certificates');
    const pkiDir = join(stateDir, 'pki');
    await initPki({ dir: pkiDir });

    const databaseAdminUrl = env.DATABASE_URL ?? (await startLocalPostgres()).adminUrl;
    async function startLocalPostgres() {
      const port = Number(env.POSTGRES_PORT ?? 54_329);
      log(`Postgres: embedded server on 127.0.0.1:${port} (set DATABASE_URL to use your own)`);
      postgres = await startEmbeddedPostgres({
        dataDir: join(stateDir, 'postgres'),
        port,
        adminPassword: credentials.passwordFor('postgres-admin'),
      });
      return postgres;
    }

    log('Postgres: databases and roles per service');
    // A prefix other than `strongroom` lets several stacks (tests, branches) share one server.
    const databasePrefix = env.STRONGROOM_DB_PREFIX ?? 'strongroom';
    if (!/^[a-z][a-z0-9_]{0,30}$/.test(databasePrefix))
      throw new Error('STRONGROOM_DB_PREFIX must match [a-z][a-z0-9_]{0,30}');
    const databases = new Map<BackendServiceName, { ownerUrl: string; runtimeUrl: string }>();
    for (const service of BACKEND_SERVICES) {
      const urls = await provisionServiceDatabase({
        adminUrl: databaseAdminUrl,
        databaseName: `${databasePrefix}_${service}`,
        ownerPassword: credentials.passwordFor(`${service}-owner`),
        runtimePassword: credentials.passwordFor(`${service}-runtime`),
      });
      databases.set(service, urls);
    }
    // The gateway's own database (shared rate limits, Idempotency-Key records), provisioned alike.
    const gatewayDatabase = await provisionServiceDatabase({
      adminUrl: databaseAdminUrl,
      databaseName: `${databasePrefix}_gateway`,
      ownerPassword: credentials.passwordFor('gateway-owner'),
      runtimePassword: credentials.passwordFor('gateway-runtime'),
    });

    const natsPort = Number(env.NATS_PORT ?? 4_223);
    const natsUrl = `tls://127.0.0.1:${natsPort}`;
    log(`NATS: nats-server with mutual TLS and JetStream on ${natsUrl}`);
    const natsDir = join(stateDir, 'nats');
    mkdirSync(join(natsDir, 'jetstream'), { recursive: true, mode: 0o700 });
    const paths = pkiPaths(pkiDir);
    const natsConfig = join(natsDir, 'nats-server.conf');
    writeFileSync(
      natsConfig,
      renderNatsServerConfig({
        host: '127.0.0.1',
        port: natsPort,
        pki: { caFile: paths.caCert, certFile: paths.serverCert, keyFile: paths.serverKey },
        jetstreamDir: join(natsDir, 'jetstream'),
        serverName: 'strongroom-local',
      }),
      { mode: 0o600 },
    );
    spawnChild({
      name: 'nats-server',
      command: findNatsServerBinary(env),
      args: ['-c', natsConfig],
      env,
      tier: TIERS.bus,
      // nats-server exits 0 on SIGINT (graceful); SIGTERM makes it exit 1.
      stopSignal: 'SIGINT',
    });
    const operatorTls = busTlsFilesFor(pkiDir, OPERATOR_IDENTITY);
    admin = await waitFor(
      'nats-server to accept TLS clients',
      15_000,
      unlessAChildDied(() =>
        connectBus({ servers: natsUrl, tls: operatorTls, name: OPERATOR_IDENTITY, timeoutMs: 1_000 }),
      ),
    );
    await ensureEventStreams(admin);
    const bus = new BusClient(admin, { defaultTimeoutMs: 1_000 });

    // Children never see the superuser URL: least privilege starts at the environment.
    const { DATABASE_URL: _adminUrl, ...inherited } = env;
    // `STRONGROOM_OPS_PORTS=random` lets stacks run side by side (tests); else the documented ports.
    const opsPortOf = (service: ServiceName) =>
      env.STRONGROOM_OPS_PORTS === 'random' ? '0' : String(DEFAULT_OPS_PORTS[service]);
    const host = env.HOST ?? '127.0.0.1';
    const port = env.PORT ?? '8080';
    // Listening on every interface (0.0.0.0, ::) is reached locally at loopback; set PUBLIC_URL for others.
    const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
    const gatewayUrl = `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
    const common = {
      ...inherited,
      // The OIDC issuer every service checks tokens against: the gateway as clients reach it.
      PUBLIC_URL: env.PUBLIC_URL ?? gatewayUrl,
      NODE_ENV: env.NODE_ENV ?? 'development',
      STRONGROOM_STATE_DIR: stateDir,
      NATS_URL: natsUrl,
      NATS_PKI_DIR: pkiDir,
    };
    for (const service of BACKEND_SERVICES) {
      const urls = databases.get(service)!;
      spawnChild({
        name: service,
        command: process.execPath,
        args: [...profilingArgs(env), join(options.rootDir, 'apps', service, 'dist', 'src', 'main.js')],
        env: {
          ...common,
          DATABASE_MIGRATION_URL: urls.ownerUrl,
          DATABASE_RUNTIME_URL: urls.runtimeUrl,
          OPS_PORT: opsPortOf(service),
        },
        tier: TIERS.services,
      });
    }
    log(`services: ${BACKEND_SERVICES.join(', ')} (logs in ${logDir})`);
    const answersHealthCheck = (service: BackendServiceName) => async () => {
      const report = await bus.request(healthCheck[service], {});
      if (report.status !== 'up') throw new Error(`${service} reports ${JSON.stringify(report.checks)}`);
    };
    await Promise.all(
      BACKEND_SERVICES.map((service) =>
        waitFor(
          `${service} to answer its health check`,
          SERVICE_READY_TIMEOUT_MS,
          unlessAChildDied(answersHealthCheck(service)),
        ),
      ),
    );
    const restart = async (
      service: BackendServiceName | 'nats-server',
      options: { killWith?: NodeJS.Signals } = {},
    ) => {
      const refuseWhileStopping = () => {
        if (stopping) throw new StartupError(`cannot restart ${service}: the stack is stopping`);
      };
      refuseWhileStopping();
      const running = children.get(service)!;
      const { child, exited } = running.managed;
      if (child.exitCode === null && child.signalCode === null) {
        restarting.add(service);
        try {
          // A real signal to the process (SIGKILL: no shutdown hook runs), as a crash or an operator would send.
          process.kill(child.pid as number, options.killWith ?? 'SIGTERM');
          // A process that ignores a graceful stop is killed, as stopAll does: a restart never hangs.
          const escalation = setTimeout(() => child.kill('SIGKILL'), RESTART_GRACE_MS);
          await exited;
          clearTimeout(escalation);
        } finally {
          restarting.delete(service);
        }
      }
      // A child spawned after stop() began would outlive the stack.
      refuseWhileStopping();
      const { child: next } = spawnChild(running.spec);
      log(`${service} restarted (pid ${next.pid})`);
      await waitFor(`${service} to answer its health check after a restart`, SERVICE_READY_TIMEOUT_MS, async () => {
        if (next.exitCode !== null || next.signalCode !== null)
          throw new StartupError(`${service} exited during its restart`);
        if (service === 'nats-server') await (await admin!.jetstreamManager()).getAccountInfo();
        else await answersHealthCheck(service)();
      });
    };

    const gatewayEnv = {
      ...common,
      HOST: host,
      PORT: port,
      OPS_PORT: opsPortOf('gateway'),
      DATABASE_MIGRATION_URL: gatewayDatabase.ownerUrl,
      DATABASE_RUNTIME_URL: gatewayDatabase.runtimeUrl,
    };
    spawnChild({
      name: 'gateway',
      command: process.execPath,
      args: [...profilingArgs(env), join(options.rootDir, 'apps', 'gateway', 'dist', 'src', 'main.js')],
      env: gatewayEnv,
      tier: TIERS.gateway,
    });
    await waitFor(
      'the gateway to report every service up',
      SERVICE_READY_TIMEOUT_MS,
      unlessAChildDied(async () => {
        const response = await fetch(`${gatewayUrl}/health`);
        if (response.status !== 200) throw new Error(`/health answered ${response.status}`);
      }),
    );
    log('seeding the demo tenant and its admin');
    // The operator seeds on its own behalf, with its own service token (tenants.create, auth.users.create).
    const operatorToken = serviceCredentialsOverBus(new BusClient(admin, { defaultTimeoutMs: 10_000 }));
    const operator = new BusClient(admin, { defaultTimeoutMs: 10_000, actingAs: operatorToken });
    const demo = await seedDemoTenant(operator, credentials);
    return {
      gatewayUrl,
      natsUrl,
      databaseAdminUrl,
      gatewayEnv,
      demo,
      failed,
      stop,
      pidOf: (name) => children.get(name)?.managed.child.pid,
      restart,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export class StartupError extends Error {
  override readonly name = 'StartupError';
  readonly code = 'STARTUP_FAILED';
}

function safeTail(file: string): string {
  try {
    return ProcessGroup.tailOf(readFileSync(file, 'utf8'));
  } catch {
    return '';
  }
}

/**
 * STRONGROOM_CPU_PROFILE_DIR: every service and the gateway write a V8 CPU profile there when they
 * stop (node's --cpu-prof, which NODE_OPTIONS refuses), for finding where a benchmark's time goes.
 */
function profilingArgs(env: NodeJS.ProcessEnv): string[] {
  const dir = env.STRONGROOM_CPU_PROFILE_DIR;
  return dir === undefined || dir === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}
