import type { MigrationInterface, QueryRunner } from 'typeorm';
import { outboxTableSql } from './outbox-sql';

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
