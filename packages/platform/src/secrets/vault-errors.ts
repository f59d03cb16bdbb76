import { SecretsError } from './secrets-error';

type Context = Record<string, string | number>;

// Vault messages we pass on (they name no request data); anything else is reduced to its status.
const KNOWN_VAULT_MESSAGES = [
  /^permission denied$/,
  /^check-and-set parameter did not match the current version$/,
  /^cipher: message authentication failed$/,
  /^invalid ciphertext: [a-z ]+$/,
  /^invalid key version$/,
  /^(encryption |signing )?key not found$/,
  /^key type [a-z0-9-]+ does not support [a-z ]+$/,
  /^invalid role or secret ID$/,
  /^invalid (role|secret) ID$/,
];
const NOT_FOUND_MESSAGE = /key not found$/;
const CAS_MESSAGE = /^check-and-set parameter did not match/;
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/** node-vault's ApiResponseError: a status and Vault's `{errors: [...]}` body. */
function responseOf(error: unknown): { status: number; message: string | undefined } | null {
  if (typeof error !== 'object' || error === null || !('response' in error)) return null;
  const response = (error as { response: unknown }).response;
  if (typeof response !== 'object' || response === null || !('statusCode' in response)) return null;
  const status = Number((response as { statusCode: unknown }).statusCode);
  const body = (response as { body?: unknown }).body;
  const errors = typeof body === 'object' && body !== null ? (body as { errors?: unknown }).errors : undefined;
  const first = Array.isArray(errors) && typeof errors[0] === 'string' ? errors[0] : undefined;
  return { status, message: first };
}

/**
 * One mapping from whatever node-vault (axios underneath) throws to SecretsError. The original
 * error is dropped, not chained: axios errors carry the request config, i.e. the token and body.
 */
export function secretsErrorFromVault(error: unknown, context: Context): SecretsError {
  if (error instanceof SecretsError) return error;
  const response = responseOf(error);
  if (response !== null) {
    const known = response.message !== undefined && KNOWN_VAULT_MESSAGES.some((re) => re.test(response.message!));
    const details = { ...context, status: response.status, ...(known ? { vaultMessage: response.message! } : {}) };
    const said = known ? `: ${response.message}` : '';
    if (response.status === 400 && known && CAS_MESSAGE.test(response.message!)) {
      return new SecretsError('CAS_MISMATCH', 'check-and-set parameter did not match the current version', details);
    }
    if (response.status === 400 && known && NOT_FOUND_MESSAGE.test(response.message!)) {
      return new SecretsError('NOT_FOUND', `Vault: ${response.message}`, details);
    }
    if (response.status === 401 || response.status === 403) {
      return SecretsError.permissionDenied(`Vault denied the request${said}`, details);
    }
    if (response.status === 404) return SecretsError.notFound('Vault path', details);
    if (response.status === 412 || response.status === 429 || response.status >= 500) {
      return SecretsError.unavailable(`Vault is unavailable (HTTP ${response.status})`, details);
    }
    return SecretsError.invalid(`Vault rejected the request (HTTP ${response.status})${said}`, details);
  }
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || code.startsWith('ERR_'))) {
    return SecretsError.unavailable('Vault did not answer', { ...context, reason: code });
  }
  return SecretsError.unavailable('The Vault request failed', context);
}
