import { appendOnlySql, grantRuntimeSql, quoteIdentifier, tenantIsolationSql } from '../src';

describe('migration SQL helpers', () => {
  it('grants to the runtime role named by the migration session, never to a literal guess', () => {
    const [statement] = grantRuntimeSql('outbox', ['SELECT', 'INSERT', 'UPDATE (published_at)', 'DELETE']);
    expect(statement).toContain('GRANT SELECT, INSERT, UPDATE ("published_at"), DELETE ON "outbox" TO %I');
    expect(statement).toContain("current_setting('strongroom.runtime_role')");
  });

  it('refuses identifiers that would need quoting, in tables and in column lists', () => {
    expect(() => quoteIdentifier('users; DROP TABLE users')).toThrow(/not a plain SQL identifier/);
    expect(() => grantRuntimeSql('Users', ['SELECT'])).toThrow(/not a plain SQL identifier/);
    expect(() => grantRuntimeSql('users', ['UPDATE (name), DELETE ON users TO x --)'])).toThrow(
      /not a plain SQL identifier/,
    );
    expect(() => grantRuntimeSql('users', ['TRUNCATE' as 'SELECT'])).toThrow(/not a table privilege/);
    expect(() => grantRuntimeSql('users', [])).toThrow(/no privileges/);
    expect(() => tenantIsolationSql('notes', 'tenant id')).toThrow(/not a plain SQL identifier/);
  });

  it('isolates tenants with ENABLE + FORCE and one policy that checks reads and writes alike', () => {
    const [enable, force, policy] = tenantIsolationSql('notes');
    expect(enable).toBe('ALTER TABLE "notes" ENABLE ROW LEVEL SECURITY');
    expect(force).toBe('ALTER TABLE "notes" FORCE ROW LEVEL SECURITY');
    const check = `"tenant_id" = nullif(current_setting('app.tenant_id', true), '')::uuid`;
    expect(policy).toBe(`CREATE POLICY "notes_tenant_isolation" ON "notes" USING (${check}) WITH CHECK (${check})`);
  });

  it('makes a table append-only by trigger and by revoking UPDATE, DELETE and TRUNCATE', () => {
    const statements = appendOnlySql('entries').join('\n');
    expect(statements).toMatch(/BEFORE UPDATE OR DELETE ON "entries"/);
    expect(statements).toMatch(/BEFORE TRUNCATE ON "entries"/);
    expect(statements).toContain('REVOKE UPDATE, DELETE, TRUNCATE ON "entries" FROM %I');
  });
});
