import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KvEngine } from './vault/kv-engine';
import { TransitEngine } from './vault/transit-engine';
import { type JsonObject, VaultHttpError } from './vault/vault-http-error';

export interface VaultStandinOptions {
  /** The root token; random when omitted. */
  token?: string;
  /** AppRole credentials accepted by `auth/approle/login`; random when omitted. */
  roleId?: string;
  secretId?: string;
  kvMount?: string;
  transitMount?: string;
}

export interface VaultStandin {
  addr: string;
  token: string;
  roleId: string;
  secretId: string;
  /** Invalidates every token issued by AppRole logins (the root token stays), as an expiry would. */
  revokeLoginTokens(): void;
  stop(): Promise<void>;
}

// Vault's default `max_request_size` is 32 MiB.
const REQUEST_BYTES_MAX = 32 * 1024 * 1024;
const LOGIN_TOKEN_TTL_SECONDS = 3600;

/**
 * An in-process HTTP server speaking the subset of the Vault API Strongroom uses (sys/health,
 * KV v2, Transit, AppRole login) with Vault's paths, status codes, error bodies and response
 * envelopes, so the Vault provider is tested through node-vault and real HTTP.
 */
export async function startVaultStandin(options: VaultStandinOptions = {}): Promise<VaultStandin> {
  const rootToken = options.token ?? `hvs.${randomBytes(18).toString('base64url')}`;
  const roleId = options.roleId ?? randomUUID();
  const secretId = options.secretId ?? randomUUID();
  const kvMount = options.kvMount ?? 'secret';
  const transitMount = options.transitMount ?? 'transit';
  if (![kvMount, transitMount].every((mount) => /^[A-Za-z0-9_-]+$/.test(mount))) {
    throw new Error('Vault stand-in mounts are single [A-Za-z0-9_-] segments');
  }
  const loginTokens = new Set<string>();
  const kv = new KvEngine();
  const transit = new TransitEngine();

  function route(method: string, path: string, query: URLSearchParams, body: JsonObject): JsonObject {
    const kvMatch = new RegExp(`^/v1/${kvMount}/(data|metadata)/(.+)$`).exec(path);
    if (kvMatch !== null) {
      const [, area, secretPath] = kvMatch as unknown as [string, string, string];
      if (area === 'data' && method === 'GET') return envelope(kv.read(secretPath, query.get('version')), 'kv');
      if (area === 'data' && (method === 'POST' || method === 'PUT')) return envelope(kv.write(secretPath, body), 'kv');
      if (area === 'metadata' && method === 'GET') return envelope(kv.metadata(secretPath), 'kv');
      throw unsupported();
    }
    const keyMatch = new RegExp(`^/v1/${transitMount}/keys/([^/]+)(/rotate)?$`).exec(path);
    if (keyMatch !== null) {
      const [, name, rotate] = keyMatch as unknown as [string, string, string | undefined];
      if (rotate !== undefined && method === 'POST') return envelope(transit.rotate(name), 'transit');
      if (rotate === undefined && method === 'GET') return envelope(transit.readKey(name), 'transit');
      if (rotate === undefined && method === 'POST') return envelope(transit.createKey(name, body), 'transit');
      throw unsupported();
    }
    const opMatch = new RegExp(`^/v1/${transitMount}/(encrypt|decrypt|rewrap|sign|verify)/([^/]+)$`).exec(path);
    if (opMatch !== null && (method === 'POST' || method === 'PUT')) {
      const [, operation, name] = opMatch as unknown as [string, string, string];
      const operations = {
        encrypt: () => transit.encrypt(name, body),
        decrypt: () => transit.decrypt(name, body),
        rewrap: () => transit.rewrap(name, body),
        sign: () => transit.sign(name, body),
        verify: () => transit.verify(name, body),
      } as const;
      return envelope(operations[operation as keyof typeof operations](), 'transit');
    }
    throw new VaultHttpError(404, [`no handler for route "${path.replace(/^\/v1\//, '')}". route entry not found.`]);
  }

  function login(body: JsonObject): JsonObject {
    if (body.role_id !== roleId || body.secret_id !== secretId)
      throw VaultHttpError.badRequest('invalid role or secret ID');
    const clientToken = `hvs.${randomBytes(18).toString('base64url')}`;
    loginTokens.add(clientToken);
    return {
      ...envelope(null, ''),
      auth: {
        client_token: clientToken,
        accessor: randomUUID(),
        policies: ['default', 'strongroom'],
        token_policies: ['default', 'strongroom'],
        metadata: { role_name: 'strongroom' },
        lease_duration: LOGIN_TOKEN_TTL_SECONDS,
        renewable: true,
        entity_id: randomUUID(),
        token_type: 'service',
        orphan: true,
      },
    };
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const method = request.method ?? 'GET';
    try {
      const body = await readJsonBody(request);
      if (url.pathname === '/v1/sys/health' && method === 'GET') return send(response, 200, health());
      if (url.pathname === '/v1/auth/approle/login' && method === 'POST') return send(response, 200, login(body));
      const token = request.headers['x-vault-token'];
      if (typeof token !== 'string' || (token !== rootToken && !loginTokens.has(token))) {
        throw VaultHttpError.permissionDenied();
      }
      send(response, 200, route(method, url.pathname, url.searchParams, body));
    } catch (error) {
      if (error instanceof VaultHttpError) return send(response, error.status, { errors: error.errors });
      send(response, 500, { errors: ['1 error occurred:\n\t* internal error\n\n'] });
    }
  }

  const server = createServer((request, response) => {
    void handle(request, response);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    addr: `http://127.0.0.1:${port}`,
    token: rootToken,
    roleId,
    secretId,
    revokeLoginTokens: () => loginTokens.clear(),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function envelope(data: JsonObject | null, mountType: string): JsonObject {
  return {
    request_id: randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: null,
    auth: null,
    mount_type: mountType,
  };
}

function health(): JsonObject {
  return {
    initialized: true,
    sealed: false,
    standby: false,
    performance_standby: false,
    replication_performance_mode: 'disabled',
    replication_dr_mode: 'disabled',
    server_time_utc: Math.floor(Date.now() / 1000),
    version: '1.17.0',
    cluster_name: 'strongroom-standin',
    cluster_id: '00000000-0000-0000-0000-000000000000',
  };
}

function unsupported(): VaultHttpError {
  return new VaultHttpError(405, ['1 error occurred:\n\t* unsupported operation\n\n']);
}

async function readJsonBody(request: IncomingMessage): Promise<JsonObject> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of request) {
    bytes += (chunk as Buffer).length;
    if (bytes > REQUEST_BYTES_MAX) throw new VaultHttpError(413, ['http: request body too large']);
    chunks.push(chunk as Buffer);
  }
  if (bytes === 0) return {};
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as JsonObject;
  } catch {
    throw VaultHttpError.badRequest('failed to parse JSON input');
  }
}

function send(response: ServerResponse, status: number, body: JsonObject): void {
  response.statusCode = status;
  response.setHeader('Cache-Control', 'no-store');
  response.setHeader('Content-Type', 'application/json');
  response.end(`${JSON.stringify(body)}\n`);
}
