import type { Environment } from '@strongroom/contracts';
import { assertMayActOnTenant, type BusRequestContext } from '@strongroom/platform';

/**
 * A tenant's sandbox or production ledger. They share tables and never each other's accounts or
 * transfers: a sandbox credential never moves production money.
 */
export interface LedgerScope {
  tenantId: string;
  environment: Environment;
}

/** The ledger a call acts on: the tenant it names (its own, or any for a platform principal) in the caller's environment. */
export function ledgerScopeOf(context: BusRequestContext, tenantId: string): LedgerScope {
  assertMayActOnTenant(context.principal, tenantId);
  // assertMayActOnTenant refused a call without a principal.
  return { tenantId, environment: (context.principal as NonNullable<BusRequestContext['principal']>).environment };
}

/** Who asked, as recorded with a transfer and in its audit event: the token's subject. */
export function actorOf(context: BusRequestContext): string {
  return context.principal?.subject ?? 'unknown';
}
