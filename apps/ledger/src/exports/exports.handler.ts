import { createHash, randomUUID } from 'node:crypto';
import { Controller } from '@nestjs/common';
import {
  createLedgerExport,
  getLedgerExportSigningKeys,
  listLedgerExportBalances,
  listLedgerExportEntries,
  type RequestOf,
  type ResponseOf,
} from '@strongroom/contracts';
import { type BusRequestContext, Handles } from '@strongroom/platform';
import { AuditPublisher, auditTrailOf, ledgerAuditEvent } from '../ledger-audit';
import { actorOf, ledgerScopeOf } from '../ledger-scope';
import { ExportSigner } from './export-signing';
import { ExportsRepository } from './exports.repository';

/**
 * Audit exports (seed 001): a signed manifest of the period, and the pages a client writes the
 * files from. The manifest is recorded in the audit trail; the pages are plain reads.
 */
@Controller()
export class ExportsHandler {
  constructor(
    private readonly exports: ExportsRepository,
    private readonly signer: ExportSigner,
    private readonly audit: AuditPublisher,
  ) {}

  @Handles(createLedgerExport)
  async create(
    input: RequestOf<typeof createLedgerExport>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof createLedgerExport>> {
    const scope = ledgerScopeOf(context, input.tenantId);
    const trail = auditTrailOf(context);
    const identity = { exportId: randomUUID(), ...scope, from: input.from, to: input.to };
    return this.audit.refusals(
      async () => {
        const manifest = await this.exports.manifest(scope, identity);
        const { bytes, signature, signingKey } = await this.signer.sign(manifest);
        await this.exports.recordCreated(
          scope,
          {
            ...identity,
            entries: manifest.entries,
            manifestSha256: createHash('sha256').update(bytes).digest('hex'),
            actor: actorOf(context),
            occurredAt: manifest.createdAt,
          },
          trail,
        );
        return { manifest, signature, signingKey };
      },
      // A period not yet ended, books that disagree with themselves, a signer down: recorded as failures.
      (refusal) => [
        ledgerAuditEvent(trail, {
          ...scope,
          action: 'ledger.export.create',
          resource: { type: 'ledger_export', id: identity.exportId },
          details: { from: input.from, to: input.to },
          ...refusal,
        }),
      ],
    );
  }

  @Handles(listLedgerExportEntries)
  entries(
    input: RequestOf<typeof listLedgerExportEntries>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof listLedgerExportEntries>> {
    const { tenantId, from, to, ...page } = input;
    return this.exports.entries(ledgerScopeOf(context, tenantId), { from, to }, page);
  }

  @Handles(listLedgerExportBalances)
  balances(
    input: RequestOf<typeof listLedgerExportBalances>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof listLedgerExportBalances>> {
    const { tenantId, from, to, ...page } = input;
    return this.exports.balances(ledgerScopeOf(context, tenantId), { from, to }, page);
  }

  /** The platform's keys, the same for every tenant; the tenant check still applies to who may ask. */
  @Handles(getLedgerExportSigningKeys)
  async signingKeys(
    input: RequestOf<typeof getLedgerExportSigningKeys>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof getLedgerExportSigningKeys>> {
    ledgerScopeOf(context, input.tenantId);
    return { keys: await this.signer.publicKeys() };
  }
}
