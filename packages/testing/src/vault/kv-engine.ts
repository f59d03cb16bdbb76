import { type JsonObject, VaultHttpError } from './vault-http-error';

// Vault KV v2 default `max_versions` (0 means 10): older versions are removed on write.
const MAX_VERSIONS = 10;

interface StoredVersion {
  data: JsonObject;
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
}

interface StoredSecret {
  created_time: string;
  updated_time: string;
  current_version: number;
  oldest_version: number;
  versions: Map<number, StoredVersion>;
}

/** The KV v2 secrets engine subset: data read/write with versions and check-and-set, metadata read. */
export class KvEngine {
  private readonly secrets = new Map<string, StoredSecret>();

  read(path: string, versionParam: string | null): JsonObject {
    const secret = this.secrets.get(path);
    if (secret === undefined) throw VaultHttpError.notFound();
    const version = versionParam === null || versionParam === '0' ? secret.current_version : Number(versionParam);
    if (!Number.isSafeInteger(version)) throw VaultHttpError.badRequest('invalid version');
    const stored = secret.versions.get(version);
    if (stored === undefined) throw VaultHttpError.notFound();
    return { data: stored.data, metadata: versionMetadata(stored, version) };
  }

  write(path: string, body: JsonObject): JsonObject {
    const data = body.data;
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw VaultHttpError.badRequest('no data provided');
    }
    const options = body.options as JsonObject | undefined;
    const existing = this.secrets.get(path);
    const currentVersion = existing?.current_version ?? 0;
    if (options?.cas !== undefined && Number(options.cas) !== currentVersion) {
      throw VaultHttpError.badRequest('check-and-set parameter did not match the current version');
    }
    const now = new Date().toISOString();
    const secret: StoredSecret = existing ?? {
      created_time: now,
      updated_time: now,
      current_version: 0,
      oldest_version: 0,
      versions: new Map(),
    };
    const version = currentVersion + 1;
    const stored = { data: data as JsonObject, created_time: now, deletion_time: '', destroyed: false };
    secret.versions.set(version, stored);
    secret.current_version = version;
    secret.updated_time = now;
    for (const old of [...secret.versions.keys()].filter((v) => v <= version - MAX_VERSIONS))
      secret.versions.delete(old);
    secret.oldest_version = Math.min(...secret.versions.keys());
    this.secrets.set(path, secret);
    return versionMetadata(stored, version);
  }

  metadata(path: string): JsonObject {
    const secret = this.secrets.get(path);
    if (secret === undefined) throw VaultHttpError.notFound();
    const versions: JsonObject = {};
    for (const [version, stored] of secret.versions) {
      versions[String(version)] = {
        created_time: stored.created_time,
        deletion_time: stored.deletion_time,
        destroyed: stored.destroyed,
      };
    }
    return {
      cas_required: false,
      created_time: secret.created_time,
      current_version: secret.current_version,
      custom_metadata: null,
      delete_version_after: '0s',
      max_versions: 0,
      oldest_version: secret.oldest_version,
      updated_time: secret.updated_time,
      versions,
    };
  }
}

function versionMetadata(stored: StoredVersion, version: number): JsonObject {
  return {
    created_time: stored.created_time,
    custom_metadata: null,
    deletion_time: stored.deletion_time,
    destroyed: stored.destroyed,
    version,
  };
}
