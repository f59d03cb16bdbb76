import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BUS_CERTIFICATE_ORGANIZATION, BUS_IDENTITIES } from '@strongroom/contracts';
import { type BusTlsFiles, busTlsFilesFor, checkBusTlsFiles } from '@strongroom/platform';
import {
  createCertificateAuthority,
  type IssuedCertificate,
  issueLeafCertificate,
  loadCertificateAuthority,
  validityFor,
} from './certificates';

export const PKI_DIR_DEFAULT = '.strongroom/pki';
export const PKI_SERVER_HOSTS_DEFAULT = ['localhost', '127.0.0.1', '::1'] as const;
export const PKI_LEAF_VALIDITY_DAYS_DEFAULT = 90;
export const PKI_CA_VALIDITY_DAYS_DEFAULT = 3650;
/** Material expiring sooner than this is re-issued by `init` instead of reused. */
const PKI_RENEW_BEFORE_DAYS = 7;
const PKI_CA_COMMON_NAME = 'Strongroom Internal CA';
const PKI_SERVER_COMMON_NAME = 'strongroom-nats';
const IDENTITY_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;

export interface PkiPaths {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientsDir: string;
  /** The CA, certificate and key one identity presents to the bus. */
  readonly client: (identity: string) => BusTlsFiles;
}

/** The layout; the client files come from the platform so services read what this writes. */
export function pkiPaths(dir: string): PkiPaths {
  const anyClient = busTlsFilesFor(dir, 'x');
  return {
    dir,
    caCert: anyClient.caFile,
    caKey: join(dir, 'ca.key'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientsDir: dirname(anyClient.certFile),
    client: (identity) => busTlsFilesFor(dir, identity),
  };
}

export type PkiErrorCode = 'PKI_CA_MISSING' | 'PKI_INVALID_IDENTITY' | 'PKI_INVALID_OPTION';

export class PkiError extends Error {
  override readonly name = 'PkiError';
  constructor(
    readonly code: PkiErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface PkiOptions {
  /** Default `.strongroom/pki`. */
  readonly dir?: string;
  /** Client identities (CN); default every service plus `strongroom-admin`. */
  readonly identities?: readonly string[];
  /** Names of the nats-server besides localhost, 127.0.0.1 and ::1. */
  readonly serverHosts?: readonly string[];
  /** Leaf lifetime; default 90 days. */
  readonly validityDays?: number;
  readonly now?: Date;
}

export interface PkiReport {
  readonly paths: PkiPaths;
  /** What was (re)issued, as `ca`, `server` or the identity; reused material is not listed. */
  readonly issued: readonly string[];
}

interface PkiPlan {
  readonly paths: PkiPaths;
  readonly identities: readonly string[];
  readonly serverHosts: readonly string[];
  readonly validityDays: number;
  readonly now: Date;
}

function planOf(options: PkiOptions): PkiPlan {
  const identities = [...new Set(options.identities ?? BUS_IDENTITIES)];
  for (const identity of identities) {
    // The identity becomes a CN, a file name and a nats user name: keep it to one safe token.
    if (!IDENTITY_PATTERN.test(identity)) {
      throw new PkiError(
        'PKI_INVALID_IDENTITY',
        `"${identity}" is not a valid identity (lower-case letters, digits, -)`,
      );
    }
  }
  const validityDays = options.validityDays ?? PKI_LEAF_VALIDITY_DAYS_DEFAULT;
  if (!Number.isInteger(validityDays) || validityDays < 1 || validityDays > PKI_CA_VALIDITY_DAYS_DEFAULT) {
    throw new PkiError(
      'PKI_INVALID_OPTION',
      `validityDays must be an integer from 1 to ${PKI_CA_VALIDITY_DAYS_DEFAULT}`,
    );
  }
  return {
    paths: pkiPaths(options.dir ?? PKI_DIR_DEFAULT),
    identities,
    serverHosts: [...new Set([...PKI_SERVER_HOSTS_DEFAULT, ...(options.serverHosts ?? [])])],
    validityDays,
    now: options.now ?? new Date(),
  };
}

/** Writes beside the target then renames, so a reader never sees half a key. */
function writeAtomically(file: string, content: string, mode: number): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, content, { mode });
  chmodSync(temporary, mode);
  renameSync(temporary, file);
}

/** Private keys 0600: only the service's own user may read them. */
function writeIssued(certFile: string, keyFile: string, material: IssuedCertificate): void {
  writeAtomically(keyFile, material.privateKeyPem, 0o600);
  writeAtomically(certFile, material.certificatePem, 0o644);
}

function ensureDirectories(paths: PkiPaths): void {
  for (const dir of [paths.dir, paths.clientsDir]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  }
}

function renewAfter(now: Date): Date {
  return new Date(now.getTime() + PKI_RENEW_BEFORE_DAYS * 86_400_000);
}

async function reusableCa(plan: PkiPlan): Promise<IssuedCertificate | undefined> {
  const { caCert, caKey } = plan.paths;
  if (!existsSync(caCert) || !existsSync(caKey)) return undefined;
  const certificate = new X509Certificate(readFileSync(caCert));
  if (!certificate.ca || new Date(certificate.validTo) < renewAfter(plan.now)) return undefined;
  return loadCertificateAuthority(readFileSync(caCert, 'utf8'), readFileSync(caKey, 'utf8'));
}

async function issueCa(plan: PkiPlan): Promise<IssuedCertificate> {
  const ca = await createCertificateAuthority({
    commonName: PKI_CA_COMMON_NAME,
    organization: BUS_CERTIFICATE_ORGANIZATION,
    validity: validityFor(PKI_CA_VALIDITY_DAYS_DEFAULT, plan.now),
  });
  writeIssued(plan.paths.caCert, plan.paths.caKey, ca);
  return ca;
}

function serverIsReusable(plan: PkiPlan, ca: IssuedCertificate): boolean {
  const { serverCert, serverKey } = plan.paths;
  if (!existsSync(serverCert) || !existsSync(serverKey)) return false;
  const certificate = new X509Certificate(readFileSync(serverCert));
  const caCertificate = new X509Certificate(ca.certificatePem);
  return (
    certificate.verify(caCertificate.publicKey) &&
    certificate.checkPrivateKey(createPrivateKey(readFileSync(serverKey))) &&
    new Date(certificate.validTo) > renewAfter(plan.now) &&
    plan.serverHosts.every((host) =>
      host.includes(':') || /^\d/.test(host) ? certificate.checkIP(host) : certificate.checkHost(host),
    )
  );
}

async function issueServer(plan: PkiPlan, ca: IssuedCertificate): Promise<void> {
  const server = await issueLeafCertificate({
    issuer: ca,
    commonName: PKI_SERVER_COMMON_NAME,
    organization: BUS_CERTIFICATE_ORGANIZATION,
    usage: 'server',
    hosts: plan.serverHosts,
    validity: validityFor(plan.validityDays, plan.now),
  });
  writeIssued(plan.paths.serverCert, plan.paths.serverKey, server);
}

function clientIsReusable(plan: PkiPlan, identity: string): boolean {
  try {
    // The same check a service runs before connecting, a week ahead.
    return checkBusTlsFiles(plan.paths.client(identity), renewAfter(plan.now)).identity === identity;
  } catch {
    return false;
  }
}

async function issueClient(plan: PkiPlan, ca: IssuedCertificate, identity: string): Promise<void> {
  const client = await issueLeafCertificate({
    issuer: ca,
    commonName: identity,
    organization: BUS_CERTIFICATE_ORGANIZATION,
    usage: 'client',
    validity: validityFor(plan.validityDays, plan.now),
  });
  const files = plan.paths.client(identity);
  writeIssued(files.certFile, files.keyFile, client);
}

/**
 * Creates the internal PKI, idempotently: valid material is reused, missing or expiring
 * pieces are issued, and a new CA re-issues every leaf it would otherwise orphan.
 */
export async function initPki(options: PkiOptions = {}): Promise<PkiReport> {
  const plan = planOf(options);
  ensureDirectories(plan.paths);
  const issued: string[] = [];
  let ca = await reusableCa(plan);
  const caIsNew = ca === undefined;
  if (!ca) {
    ca = await issueCa(plan);
    issued.push('ca');
  }
  if (caIsNew || !serverIsReusable(plan, ca)) {
    await issueServer(plan, ca);
    issued.push('server');
  }
  for (const identity of plan.identities) {
    if (caIsNew || !clientIsReusable(plan, identity)) {
      await issueClient(plan, ca, identity);
      issued.push(identity);
    }
  }
  return { paths: plan.paths, issued };
}

function identitiesOnDisk(paths: PkiPaths): string[] {
  if (!existsSync(paths.clientsDir)) return [];
  return readdirSync(paths.clientsDir)
    .filter((file) => file.endsWith('.crt'))
    .map((file) => file.slice(0, -'.crt'.length));
}

/**
 * Re-issues the server and every client certificate (new keys), plus the CA with `rotateCa`.
 * A new CA needs every service and nats-server restarted with the new files together.
 */
export async function rotatePki(options: PkiOptions & { readonly rotateCa?: boolean } = {}): Promise<PkiReport> {
  const plan = planOf(options);
  ensureDirectories(plan.paths);
  const identities = [...new Set([...plan.identities, ...identitiesOnDisk(plan.paths)])];
  const issued: string[] = [];
  let ca: IssuedCertificate;
  if (options.rotateCa) {
    ca = await issueCa(plan);
    issued.push('ca');
  } else {
    if (!existsSync(plan.paths.caCert) || !existsSync(plan.paths.caKey)) {
      throw new PkiError('PKI_CA_MISSING', `No CA in ${plan.paths.dir}: run \`strongroom pki init\` first`);
    }
    ca = await loadCertificateAuthority(
      readFileSync(plan.paths.caCert, 'utf8'),
      readFileSync(plan.paths.caKey, 'utf8'),
    );
  }
  await issueServer(plan, ca);
  issued.push('server');
  for (const identity of identities) {
    await issueClient(plan, ca, identity);
    issued.push(identity);
  }
  return { paths: plan.paths, issued };
}
