import type { ErrorCode } from '@strongroom/contracts';
import { PlatformError } from './platform-error';

/** A domain's refusals: each reason with the catalogue code and the fixed message it is answered with. */
export type RefusalTable = Readonly<Record<string, { readonly code: ErrorCode; readonly message: string }>>;

type Details = Record<string, string | number | boolean | readonly string[]>;

/**
 * A refusal of domain code (cards, API keys, ...), named by its `reason` from the domain's table.
 * Messages are fixed per reason; details carry ids, counts and limits, never a secret. Handlers
 * answer it as `toPlatformError()`: the table's code, the message, and `reason` for SDKs to switch on.
 */
export class DomainRefusal<T extends RefusalTable> extends Error {
  constructor(
    private readonly table: T,
    readonly reason: keyof T & string,
    readonly details: Details = {},
  ) {
    super(table[reason]!.message);
  }

  toPlatformError(): PlatformError {
    return new PlatformError(this.table[this.reason]!.code, this.message, { reason: this.reason, ...this.details });
  }
}
