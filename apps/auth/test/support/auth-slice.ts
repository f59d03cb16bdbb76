import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestMicroservice, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type Environment, OPERATOR_IDENTITY } from '@strongroom/contracts';
import {
  BusClient,
  BusServer,
  busHandlerHooks,
  createLogger,
  createServiceDataSource,
  ensureEventStreams,
  LocalSecretsProvider,
  OutboxRelay,
  type ProcessCredentials,
  type ServiceResources,
  serviceRootModule,
  startProcessCredentials,
} from '@strongroom/platform';
import { createTestDatabase, startTestNats, type TestDatabase, type TestNats } from '@strongroom/testing';
import { importJWK, SignJWT } from 'jose';
import type { NatsConnection } from 'nats';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { migrations } from '../../migrations';
import { localCredentialSources } from '../../src/service-tokens/local-credential-sources';
import { currentKey } from '../../src/signing-keys/signing-key-ring';
import { SigningKeyStore } from '../../src/signing-keys/signing-key-store';

/** The issuer (`iss`) auth signs with in these tests. */
export const PUBLIC_URL = 'https://api.strongroom.test';
/** The audience (`aud`) auth signs for and every verifier expects (the configuration's default). */
export const TOKEN_AUDIENCE = 'urn:strongroom:api';

export interface AuthSliceOptions {
  /** Names the state directory (`strongroom-<label>-*`) and the test database (`t_<label>_*`). */
  readonly label: string;
  /** The Nest module auth serves on the bus, in queue `auth`. */
  readonly module: Type<unknown>;
  /** Also run auth's OutboxRelay, so its events reach JetStream (default: no relay). */
  readonly outboxRelay?: boolean;
}

/** The claims of a tenant user's access token; each optional one has the default named. */
export interface UserTokenClaims {
  /** `tenant_id` */
  readonly tenantId: string;
  /** `permissions` */
  readonly permissions: readonly string[];
  /** `sub`; default `user-of-<tenantId>` */
  readonly subject?: string;
  /** `env`; default `production` */
  readonly env?: Environment;
  /** `jti`; default a fresh UUID */
  readonly jti?: string;
}

/** Auth on a real mTLS bus, holding only its key ring: JWKS and service tokens for other processes. */
export interface BareAuthSlice {
  /** The nats-server, with JetStream event streams ensured by the operator. */
  readonly nats: TestNats;
  /** Auth's resources, as handed to its module. */
  readonly resources: ServiceResources;
  /** A connection as `identity` (a bus identity with its certificate), closed by stop(). */
  connect(identity: string): Promise<NatsConnection>;
  /** `Bearer <jwt>`: an at+jwt access token signed with auth's current key, as the OIDC provider signs them. */
  userToken(claims: UserTokenClaims): Promise<string>;
  /** Tears everything down in reverse and restores the bus verifier hook found at start. */
  stop(): Promise<void>;
}

/** Auth as runBackendService runs it: its database, its own process credentials and the bus verifier hook. */
export interface AuthSlice extends BareAuthSlice {
  /** The migrated test database (dropped by stop()). */
  readonly database: TestDatabase;
  /** The runtime-role DataSource auth uses. */
  readonly dataSource: DataSource;
  /** A superuser client on the test database, to see past RLS and change what tests need changed. */
  readonly superuser: Client;
  /** Auth's process credentials (its verifier reads the key ring locally, revocations from JetStream). */
  readonly credentials: ProcessCredentials;
}

/**
 * Starts nats-server and auth serving `module`. With `database: false`, auth gets no database, no
 * process credentials and leaves the verifier hook alone (another process's verifier goes there).
 * A failed start tears down what it had started before rethrowing.
 */
export function startAuthSlice(options: AuthSliceOptions & { readonly database: false }): Promise<BareAuthSlice>;
export function startAuthSlice(options: AuthSliceOptions & { readonly database?: true }): Promise<AuthSlice>;
export async function startAuthSlice(
  options: AuthSliceOptions & { readonly database?: boolean },
): Promise<BareAuthSlice | AuthSlice> {
  const withDatabase = options.database !== false;
  const logger = createLogger({ service: 'auth', level: 'silent' });
  const installedVerifier = busHandlerHooks.verifyCredential;
  const stateDir = mkdtempSync(join(tmpdir(), `strongroom-${options.label}-`));
  const connections: NatsConnection[] = [];
  let nats: TestNats | undefined;
  let database: TestDatabase | undefined;
  let dataSource: DataSource | undefined;
  let superuser: Client | undefined;
  let credentials: ProcessCredentials | undefined;
  let relay: OutboxRelay | undefined;
  let auth: INestMicroservice | undefined;

  async function connect(identity: string): Promise<NatsConnection> {
    const connection = await nats!.connectAs(identity);
    connections.push(connection);
    return connection;
  }

  async function stop(): Promise<void> {
    busHandlerHooks.verifyCredential = installedVerifier;
    await auth?.close();
    await relay?.stop();
    await credentials?.stop();
    for (const connection of connections) if (!connection.isClosed()) await connection.close();
    await dataSource?.destroy();
    await superuser?.end();
    await database?.drop();
    await nats?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }

  try {
    nats = await startTestNats();
    await ensureEventStreams(await connect(OPERATOR_IDENTITY));
    if (withDatabase) {
      database = await createTestDatabase(options.label, migrations);
      dataSource = createServiceDataSource({ url: database.runtimeUrl, applicationName: 'auth-test', poolSize: 4 });
      await dataSource.initialize();
      superuser = new Client({
        connectionString: database.adminUrl.replace(/\/[^/?]*(\?|$)/, `/${database.databaseName}$1`),
      });
      await superuser.connect();
    }

    const authConnection = await connect('auth');
    const base = {
      service: 'auth',
      version: 'test',
      startedAtMs: Date.now(),
      config: { PUBLIC_URL, TOKEN_AUDIENCE } as ServiceResources['config'],
      logger,
      connection: authConnection,
      bus: new BusClient(authConnection, { defaultTimeoutMs: 2_000 }),
      secrets: new LocalSecretsProvider({ stateDir, logger, nodeEnv: 'test' }),
      ...(dataSource ? { dataSource } : {}),
    } satisfies ServiceResources;
    let resources: ServiceResources = base;
    if (dataSource) {
      // As runBackendService does for auth: its verifier reads the key ring locally, revocations from JetStream.
      const started = await startProcessCredentials({
        identity: 'auth',
        connection: authConnection,
        config: { PUBLIC_URL, TOKEN_AUDIENCE },
        logger,
        sources: localCredentialSources(base),
      });
      credentials = started;
      resources = { ...base, credentials: started };
      busHandlerHooks.verifyCredential = (authorization) => started.verifier.verify(authorization);
      if (options.outboxRelay) {
        relay = new OutboxRelay({ dataSource, connection: authConnection, logger, pollIntervalMs: 100 });
        relay.start();
      }
    }
    auth = await NestFactory.createMicroservice(serviceRootModule(options.module, resources), {
      strategy: new BusServer(async () => authConnection, { queue: 'auth' }),
      logger: false,
    });
    await auth.listen();

    const keys = new SigningKeyStore(resources);
    async function userToken(claims: UserTokenClaims): Promise<string> {
      const now = new Date();
      const key = currentKey(await keys.keys(now), now)!;
      const jwt = await new SignJWT({
        tenant_id: claims.tenantId,
        env: claims.env ?? 'production',
        permissions: claims.permissions,
        jti: claims.jti ?? randomUUID(),
      })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
        .setIssuer(PUBLIC_URL)
        .setAudience(TOKEN_AUDIENCE)
        .setSubject(claims.subject ?? `user-of-${claims.tenantId}`)
        .setIssuedAt()
        .setExpirationTime('15m')
        .sign(await importJWK(key.privateJwk, key.alg));
      return `Bearer ${jwt}`;
    }

    const bare: BareAuthSlice = { nats, resources, connect, userToken, stop };
    if (!database || !dataSource || !superuser || !credentials) return bare;
    return { ...bare, database, dataSource, superuser, credentials };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}
