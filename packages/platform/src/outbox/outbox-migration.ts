import type { MigrationInterface, QueryRunner } from 'typeorm';
import { outboxAuditSubjectsSql, outboxTableSql, outboxTenantScopeSql } from './outbox-sql';

/** The first migration of every service database: the transactional outbox. */
export class Outbox1763856000000 implements MigrationInterface {
  readonly name = 'Outbox1763856000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const statement of outboxTableSql()) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE outbox');
    await queryRunner.query('DROP FUNCTION strongroom_outbox_notify()');
  }
}

/** Every service database, after its own migrations: the outbox's rows scoped to the transaction's tenant. */
export class OutboxTenantScope1764288000000 implements MigrationInterface {
  readonly name = 'OutboxTenantScope1764288000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const statement of outboxTenantScopeSql()) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP POLICY outbox_tenant_scope ON outbox');
    await queryRunner.query('ALTER TABLE outbox NO FORCE ROW LEVEL SECURITY');
    await queryRunner.query('ALTER TABLE outbox DISABLE ROW LEVEL SECURITY');
  }
}

/** Every service database: the outbox also carries audit events (`audit.events.<emitter>`). */
export class OutboxAuditSubjects1764720000000 implements MigrationInterface {
  readonly name = 'OutboxAuditSubjects1764720000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const statement of outboxAuditSubjectsSql()) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE outbox DROP CONSTRAINT outbox_subject_check');
    await queryRunner.query(
      "ALTER TABLE outbox ADD CONSTRAINT outbox_subject_check CHECK (subject ~ '^evt\\.[a-z]+\\.v1\\.[a-z0-9-]+\\.[a-z0-9-]+$')",
    );
  }
}
