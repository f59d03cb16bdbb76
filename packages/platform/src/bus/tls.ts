import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The three files a bus client presents: the internal CA, its certificate, its private key. */
export interface BusTlsFiles {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * The PKI directory layout, declared once: `strongroom pki init` writes it, services read it.
 *   ca.crt ca.key server.crt server.key clients/<identity>.crt clients/<identity>.key
 */
export function busTlsFilesFor(pkiDir: string, identity: string): BusTlsFiles {
  return {
    caFile: join(pkiDir, 'ca.crt'),
    certFile: join(pkiDir, 'clients', `${identity}.crt`),
    keyFile: join(pkiDir, 'clients', `${identity}.key`),
  };
}

export type BusTlsErrorCode =
  | 'TLS_FILE_MISSING'
  | 'TLS_FILE_UNREADABLE'
  | 'TLS_FILE_MALFORMED'
  | 'TLS_KEY_MISMATCH'
  | 'TLS_CERT_EXPIRED'
  | 'TLS_CERT_NOT_YET_VALID'
  | 'TLS_CERT_NOT_ISSUED_BY_CA'
  | 'TLS_CERT_WRONG_USAGE'
  | 'TLS_CA_INVALID';

/** A local certificate problem found before dialling the bus, named precisely. */
export class BusTlsError extends Error {
  override readonly name = 'BusTlsError';
  constructor(
    readonly code: BusTlsErrorCode,
    message: string,
    readonly file: string,
  ) {
    super(message);
  }
}

/** What the checked certificate says about the client. */
export interface BusTlsIdentity {
  /** The certificate's CN: the identity nats-server maps the connection to. */
  readonly identity: string;
  readonly subject: string;
  readonly notAfter: Date;
}

// RFC 5280 §4.2.1.12 id-kp-clientAuth: nats-server (Go crypto/tls) refuses client certificates without it.
const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new BusTlsError(
        'TLS_FILE_MISSING',
        `The bus ${what} ${file} does not exist (run \`strongroom pki init\`)`,
        file,
      );
    }
    throw new BusTlsError('TLS_FILE_UNREADABLE', `The bus ${what} ${file} cannot be read (${code ?? error})`, file);
  }
}

function parseCertificate(file: string, what: string): X509Certificate {
  const pem = readPem(file, what);
  try {
    return new X509Certificate(pem);
  } catch {
    throw new BusTlsError('TLS_FILE_MALFORMED', `The bus ${what} ${file} is not a PEM X.509 certificate`, file);
  }
}

function parsePrivateKey(file: string): KeyObject {
  const pem = readPem(file, 'private key');
  try {
    return createPrivateKey(pem);
  } catch {
    throw new BusTlsError('TLS_FILE_MALFORMED', `The bus private key ${file} is not a PEM private key`, file);
  }
}

function commonNameOf(certificate: X509Certificate): string {
  const line = certificate.subject.split('\n').find((part) => part.startsWith('CN='));
  return line ? line.slice('CN='.length) : '';
}

function assertValidAt(certificate: X509Certificate, file: string, what: string, now: Date): void {
  const notBefore = new Date(certificate.validFrom);
  const notAfter = new Date(certificate.validTo);
  if (now < notBefore) {
    throw new BusTlsError(
      'TLS_CERT_NOT_YET_VALID',
      `The bus ${what} ${file} is not valid before ${notBefore.toISOString()}`,
      file,
    );
  }
  if (now > notAfter) {
    throw new BusTlsError(
      'TLS_CERT_EXPIRED',
      `The bus ${what} ${file} expired on ${notAfter.toISOString()} (run \`strongroom pki rotate\`)`,
      file,
    );
  }
}

/**
 * Checks, before connecting, everything nats-server would refuse with nothing better than a
 * handshake failure the client sees as a TIMEOUT: files present, key matching, validity dates,
 * issuer, extended key usage. Throws BusTlsError; returns the identity the server will map.
 */
export function checkBusTlsFiles(files: BusTlsFiles, now: Date = new Date()): BusTlsIdentity {
  const ca = parseCertificate(files.caFile, 'CA certificate');
  const certificate = parseCertificate(files.certFile, 'client certificate');
  const privateKey = parsePrivateKey(files.keyFile);

  if (!ca.ca) {
    throw new BusTlsError(
      'TLS_CA_INVALID',
      `The bus CA file ${files.caFile} holds a certificate that is not a CA`,
      files.caFile,
    );
  }
  assertValidAt(ca, files.caFile, 'CA certificate', now);
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new BusTlsError(
      'TLS_KEY_MISMATCH',
      `The bus private key ${files.keyFile} does not belong to the certificate ${files.certFile}`,
      files.keyFile,
    );
  }
  assertValidAt(certificate, files.certFile, 'client certificate', now);
  if (!certificate.checkIssued(ca) || !certificate.verify(ca.publicKey)) {
    throw new BusTlsError(
      'TLS_CERT_NOT_ISSUED_BY_CA',
      `The bus client certificate ${files.certFile} (issuer "${certificate.issuer.replaceAll('\n', ', ')}") was not issued by the CA in ${files.caFile}`,
      files.certFile,
    );
  }
  const extendedKeyUsages = certificate.keyUsage ?? [];
  if (!extendedKeyUsages.includes(CLIENT_AUTH_OID)) {
    throw new BusTlsError(
      'TLS_CERT_WRONG_USAGE',
      `The bus client certificate ${files.certFile} lacks the clientAuth extended key usage`,
      files.certFile,
    );
  }
  return {
    identity: commonNameOf(certificate),
    subject: certificate.subject.replaceAll('\n', ', '),
    notAfter: new Date(certificate.validTo),
  };
}
