// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// @peculiar/x509 signs through WebCrypto; node's implementation, explicitly (no global lookup).
x509.cryptoProvider.set(webcrypto);

/** ECDSA P-256 (RFC 5480): small keys, fast handshakes, accepted by Go's crypto/tls and OpenSSL. */
const KEY_ALGORITHM: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING_ALGORITHM: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY_MS = 86_400_000;

/** A certificate with its private key, parsed and as PEM (PKCS#8 for the key). */
export interface IssuedCertificate {
  readonly certificate: x509.X509Certificate;
  readonly privateKey: webcrypto.CryptoKey;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

export interface Validity {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** From now (back-dated one minute for clock skew between hosts) for `days`. */
export function validityFor(days: number, now: Date = new Date()): Validity {
  return { notBefore: new Date(now.getTime() - 60_000), notAfter: new Date(now.getTime() + days * DAY_MS) };
}

// RFC 5280 §4.1.2.2: positive, at most 20 octets; 128 random bits make collisions moot.
function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

async function generateKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
}

async function privateKeyPemOf(key: webcrypto.CryptoKey): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
}

async function issued(certificate: x509.X509Certificate, privateKey: webcrypto.CryptoKey): Promise<IssuedCertificate> {
  return {
    certificate,
    privateKey,
    certificatePem: certificate.toString('pem'),
    privateKeyPem: await privateKeyPemOf(privateKey),
  };
}

/** Distinguished name in certificate (DER) order: O first, then CN. */
function distinguishedName(commonName: string, organization: string): x509.JsonName {
  return [{ O: [organization] }, { CN: [commonName] }];
}

export interface CertificateAuthorityOptions {
  readonly commonName: string;
  readonly organization: string;
  readonly validity: Validity;
}

/** A self-signed CA that may sign leaves only (pathLength 0). */
export async function createCertificateAuthority(options: CertificateAuthorityOptions): Promise<IssuedCertificate> {
  const keys = await generateKeyPair();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: distinguishedName(options.commonName, options.organization),
    notBefore: options.validity.notBefore,
    notAfter: options.validity.notAfter,
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return issued(certificate, keys.privateKey);
}

/** Reads a CA back from its PEM files, to sign more leaves with it. */
export async function loadCertificateAuthority(
  certificatePem: string,
  privateKeyPem: string,
): Promise<IssuedCertificate> {
  const certificate = new x509.X509Certificate(certificatePem);
  const der = x509.PemConverter.decodeFirst(privateKeyPem);
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, true, ['sign']);
  return { certificate, privateKey, certificatePem, privateKeyPem };
}

export type LeafUsage = 'client' | 'server';

export interface LeafCertificateOptions {
  readonly issuer: IssuedCertificate;
  readonly commonName: string;
  readonly organization: string;
  readonly usage: LeafUsage;
  readonly validity: Validity;
  /** DNS names and IP addresses for the subjectAltName (servers). */
  readonly hosts?: readonly string[];
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

function subjectAltNamesOf(hosts: readonly string[]): x509.JsonGeneralNames {
  return hosts.map((host) =>
    IPV4.test(host) || host.includes(':') ? { type: 'ip', value: host } : { type: 'dns', value: host },
  );
}

/**
 * Issues a leaf certificate. Any issuer and validity are accepted on purpose: tests issue
 * expired certificates and certificates from a foreign CA with it.
 */
export async function issueLeafCertificate(options: LeafCertificateOptions): Promise<IssuedCertificate> {
  const keys = await generateKeyPair();
  const extendedKeyUsage =
    options.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([extendedKeyUsage], false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(options.issuer.certificate),
  ];
  if (options.hosts && options.hosts.length > 0) {
    extensions.push(new x509.SubjectAlternativeNameExtension(subjectAltNamesOf(options.hosts), false));
  }
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: distinguishedName(options.commonName, options.organization),
    issuer: options.issuer.certificate.subjectName,
    notBefore: options.validity.notBefore,
    notAfter: options.validity.notAfter,
    publicKey: keys.publicKey,
    signingKey: options.issuer.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions,
  });
  return issued(certificate, keys.privateKey);
}
