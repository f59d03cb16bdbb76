/** SQLSTATE of the driver error TypeORM wraps (`QueryFailedError.driverError`), or of a bare pg error. */
export function sqlStateOf(error: unknown): string | undefined {
  const candidate = error as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = candidate?.driverError?.code ?? candidate?.code;
  return typeof code === 'string' ? code : undefined;
}

/** 23505: a UNIQUE or PRIMARY KEY constraint refused the row (answered as CONFLICT). */
export function isUniqueViolation(error: unknown): boolean {
  return sqlStateOf(error) === '23505';
}

/** Runs `work`; a unique violation becomes the domain's CONFLICT instead of an INTERNAL. */
export async function conflictOnDuplicate<T>(work: () => Promise<T>, conflict: () => Error): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isUniqueViolation(error)) throw conflict();
    throw error;
  }
}
