import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  LEDGER_EXPORT_FILES,
  LEDGER_EXPORT_SIGNING_KEY,
  type LedgerExportSigningKey,
  ledgerExportSigningKeySchema,
} from '@strongroom/contracts';
import { verifyWithPublicKeys } from '@strongroom/platform';
import type { ProblemList } from './export-reconciliation';

/** manifest.sig and public-key.json hold a few hundred bytes; a file far bigger is not one. */
const SIGNATURE_FILE_BYTES_MAX = 64 * 1024;

/**
 * What a signature is checked against. `trustedKeys`: the platform's keys, obtained apart from the
 * export (`strongroom ledger export-keys`): proves the platform signed it. `trustEmbeddedKey`: the
 * export's own public-key.json, chosen explicitly: proves the files are what that key signed, not
 * whose key it is (anyone can re-sign edited files and ship their own key).
 */
export type LedgerExportKeyTrust =
  | { trustedKeys: LedgerExportSigningKey[]; trustEmbeddedKey?: undefined }
  | { trustEmbeddedKey: true; trustedKeys?: undefined };

/** The key a signature was checked with; `pinned` when it came from `trustedKeys`. */
export interface LedgerExportSignatureKey {
  name: string;
  version: number;
  pinned: boolean;
}

async function readSmallFile(dir: string, name: string, problems: ProblemList): Promise<string | undefined> {
  const path = join(dir, name);
  if ((await stat(path)).size > SIGNATURE_FILE_BYTES_MAX) {
    problems.add(`${name} is larger than ${SIGNATURE_FILE_BYTES_MAX} bytes: it is not one`);
    return undefined;
  }
  return readFile(path, 'utf8');
}

/** The keys `trust` names, or undefined (and the problem) when it names none. */
async function candidateKeys(
  dir: string,
  trust: LedgerExportKeyTrust,
  problems: ProblemList,
): Promise<LedgerExportSigningKey[] | undefined> {
  // `trust` is checked at run time too: a caller from JavaScript (or a stale one) may pass nothing.
  if (trust?.trustedKeys !== undefined) return trust.trustedKeys;
  if (trust?.trustEmbeddedKey !== true) {
    problems.add(
      `${LEDGER_EXPORT_FILES.signature}: signature not checked against a pinned platform key ` +
        '(no trusted keys given, and the key shipped with the export not explicitly trusted)',
    );
    return undefined;
  }
  const text = await readSmallFile(dir, LEDGER_EXPORT_FILES.publicKey, problems);
  if (text === undefined) return undefined;
  const shipped = ledgerExportSigningKeySchema.safeParse(parseJson(text));
  if (!shipped.success) {
    problems.add(`${LEDGER_EXPORT_FILES.publicKey} is not a signing key`);
    return undefined;
  }
  return [shipped.data];
}

/** Checks manifest.sig over the manifest's `bytes`; the key it verified with, or undefined (and the problem). */
export async function checkSignature(
  dir: string,
  bytes: Buffer,
  trust: LedgerExportKeyTrust,
  problems: ProblemList,
): Promise<LedgerExportSignatureKey | undefined> {
  const keys = await candidateKeys(dir, trust, problems);
  if (keys === undefined) return undefined;
  const signature = (await readSmallFile(dir, LEDGER_EXPORT_FILES.signature, problems))?.trim();
  if (signature === undefined) return undefined;
  const pinned = trust.trustedKeys !== undefined;
  const by = pinned ? 'any of the trusted keys' : 'the key of the export';
  // A version number names a key only within one key name: another key's v1 must not stand in for ours.
  const ours = keys.filter((candidate) => candidate.name === LEDGER_EXPORT_SIGNING_KEY);
  if (ours.length === 0) {
    problems.add(
      pinned
        ? `${LEDGER_EXPORT_FILES.signature}: none of the trusted keys is a ${LEDGER_EXPORT_SIGNING_KEY} key`
        : `${LEDGER_EXPORT_FILES.publicKey}: not a ${LEDGER_EXPORT_SIGNING_KEY} key`,
    );
    return undefined;
  }
  const version = Number(/^[a-z]+:v([0-9]+):/.exec(signature)?.[1]);
  const key = ours.find((candidate) => candidate.version === version);
  const transitKey = key && [{ version: key.version, publicKey: key.publicKey, createdTime: '' }];
  if (key === undefined || transitKey === undefined || !verifyWithPublicKeys(transitKey, bytes, signature)) {
    problems.add(
      `${LEDGER_EXPORT_FILES.signature} is not a valid signature of ${LEDGER_EXPORT_FILES.manifest} by ${by}`,
    );
    return undefined;
  }
  return { name: key.name, version: key.version, pinned };
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
