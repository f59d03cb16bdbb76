/** An error answered as Vault does: a status and `{"errors": [...]}`. */
export class VaultHttpError extends Error {
  override readonly name = 'VaultHttpError';

  constructor(
    readonly status: number,
    readonly errors: string[],
  ) {
    super(errors[0] ?? `HTTP ${status}`);
  }

  static badRequest(message: string) {
    return new VaultHttpError(400, [message]);
  }
  /** Vault answers a missing KV path or key with 404 and an empty errors list. */
  static notFound() {
    return new VaultHttpError(404, []);
  }
  static permissionDenied() {
    return new VaultHttpError(403, ['permission denied']);
  }
}

export type JsonObject = Record<string, unknown>;

export function decodeBase64Field(body: JsonObject, field: string, required: boolean): Buffer | undefined {
  const value = body[field];
  if (value === undefined || value === '') {
    if (required) throw VaultHttpError.badRequest(`missing ${field} to ${field === 'input' ? 'sign' : 'encrypt'}`);
    return undefined;
  }
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
    throw VaultHttpError.badRequest(`failed to base64-decode ${field}`);
  }
  return Buffer.from(value, 'base64');
}
