import type { Permission } from '@strongroom/contracts';
import { EnvelopeEncryption, PgDataKeyRepository, type TransitSecrets, withTenant } from '@strongroom/platform';
import type { DataSource } from 'typeorm';
import { AUTH_KEK_NAME } from '../auth-secrets';
import type { StoredRecoveryCode } from '../mfa/recovery-codes';
import { customRolesNamed } from '../roles/custom-roles.repository';
import { customRoleNamesOf, resolveRoles } from '../roles/tenant-roles';

/** What a login needs of a user, TOTP secrets decrypted. */
export interface LoginAccount {
  id: string;
  tenantId: string;
  email: string;
  passwordHash: string;
  roles: string[];
  /** The permissions of its roles, custom ones resolved (what decides whether MFA is required). */
  permissions: ReadonlySet<Permission>;
  totpSecret: string | null;
  totpPendingSecret: string | null;
  totpLastStep: number | null;
  recoveryCodes: StoredRecoveryCode[];
}

export interface LoginAccounts {
  findByEmail(tenantId: string, email: string): Promise<LoginAccount | undefined>;
  savePendingTotp(tenantId: string, userId: string, secret: string): Promise<void>;
  /**
   * Moves the pending secret to the active one, records the step of the code that proved it and
   * stores the (hashed) recovery codes.
   */
  confirmTotp(tenantId: string, userId: string, timeStep: number, recoveryCodes: StoredRecoveryCode[]): Promise<void>;
  /** Compare-and-set: false when another sign-in changed the codes first (a code is redeemed once). */
  replaceRecoveryCodes(
    tenantId: string,
    userId: string,
    expected: StoredRecoveryCode[],
    next: StoredRecoveryCode[],
  ): Promise<boolean>;
  /**
   * Records the time step of a code just accepted, only if it is later than the last one used:
   * false when another sign-in used this step (or a later one) first — the code is spent.
   */
  recordTotpStep(tenantId: string, userId: string, timeStep: number): Promise<boolean>;
}

/** Envelope purpose: a TOTP ciphertext decrypts as nothing else. */
const TOTP_PURPOSE = 'auth.totp-secret';

interface AccountRow {
  id: string;
  tenant_id: string;
  email: string;
  password_hash: string;
  roles: string[];
  totp_secret_ciphertext: string | null;
  totp_pending_ciphertext: string | null;
  totp_last_step: string | null;
  recovery_codes: StoredRecoveryCode[];
}

/** Users as the login sees them, in Postgres, always inside the user's tenant (RLS). */
export class PgLoginAccounts implements LoginAccounts {
  private readonly encryption: EnvelopeEncryption;

  constructor(
    private readonly dataSource: DataSource,
    transit: TransitSecrets,
  ) {
    this.encryption = new EnvelopeEncryption({
      transit,
      repository: new PgDataKeyRepository(dataSource),
      kekName: AUTH_KEK_NAME,
    });
  }

  async findByEmail(tenantId: string, email: string): Promise<LoginAccount | undefined> {
    const found = await withTenant(this.dataSource, tenantId, async (manager) => {
      const rows: AccountRow[] = await manager.query(
        `SELECT id, tenant_id, email, password_hash, roles, totp_secret_ciphertext, totp_pending_ciphertext,
                totp_last_step::text AS totp_last_step, recovery_codes FROM users WHERE email = $1`,
        [email.normalize('NFKC').trim().toLowerCase()],
      );
      if (rows[0] === undefined) return undefined;
      const customRoles = await customRolesNamed(manager, customRoleNamesOf(rows[0].roles), 'none');
      return { row: rows[0], permissions: resolveRoles(rows[0].roles, customRoles).permissions };
    });
    if (found === undefined) return undefined;
    const { row, permissions } = found;
    return {
      id: row.id,
      tenantId: row.tenant_id,
      email: row.email,
      passwordHash: row.password_hash,
      roles: row.roles,
      permissions,
      totpSecret: await this.decrypt(tenantId, row.totp_secret_ciphertext),
      totpPendingSecret: await this.decrypt(tenantId, row.totp_pending_ciphertext),
      totpLastStep: row.totp_last_step === null ? null : Number(row.totp_last_step),
      recoveryCodes: row.recovery_codes,
    };
  }

  async savePendingTotp(tenantId: string, userId: string, secret: string): Promise<void> {
    const ciphertext = await this.encryption.encrypt({ tenantId, purpose: TOTP_PURPOSE }, secret);
    await withTenant(this.dataSource, tenantId, (manager) =>
      manager.query('UPDATE users SET totp_pending_ciphertext = $2 WHERE id = $1', [userId, ciphertext]),
    );
  }

  async confirmTotp(
    tenantId: string,
    userId: string,
    timeStep: number,
    recoveryCodes: StoredRecoveryCode[],
  ): Promise<void> {
    await withTenant(this.dataSource, tenantId, (manager) =>
      manager.query(
        `UPDATE users SET totp_secret_ciphertext = totp_pending_ciphertext, totp_pending_ciphertext = NULL,
                totp_enrolled_at = now(), totp_last_step = $2, recovery_codes = $3::jsonb
          WHERE id = $1 AND totp_pending_ciphertext IS NOT NULL`,
        [userId, timeStep, JSON.stringify(recoveryCodes)],
      ),
    );
  }

  async replaceRecoveryCodes(
    tenantId: string,
    userId: string,
    expected: StoredRecoveryCode[],
    next: StoredRecoveryCode[],
  ): Promise<boolean> {
    const rows: unknown[] = await withTenant(this.dataSource, tenantId, (manager) =>
      manager.query(
        `WITH updated AS (
           UPDATE users SET recovery_codes = $3::jsonb WHERE id = $1 AND recovery_codes = $2::jsonb RETURNING 1
         ) SELECT 1 FROM updated`,
        [userId, JSON.stringify(expected), JSON.stringify(next)],
      ),
    );
    return rows.length === 1;
  }

  async recordTotpStep(tenantId: string, userId: string, timeStep: number): Promise<boolean> {
    // Compare-and-set: of two sign-ins racing with the same code, exactly one moves the step.
    const moved: unknown[] = await withTenant(this.dataSource, tenantId, (manager) =>
      manager.query(
        `WITH moved AS (
           UPDATE users SET totp_last_step = $2
            WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2) RETURNING 1
         ) SELECT 1 FROM moved`,
        [userId, timeStep],
      ),
    );
    return moved.length === 1;
  }

  private async decrypt(tenantId: string, ciphertext: string | null): Promise<string | null> {
    if (ciphertext === null) return null;
    return (await this.encryption.decrypt({ tenantId, purpose: TOTP_PURPOSE }, ciphertext)).toString('utf8');
  }
}
