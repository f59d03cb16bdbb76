#!/bin/sh
# Creates one database per backend service, each with two roles (docs/decisions.md §4):
#   strongroom_<service>_owner  owns the database and runs its migrations (DATABASE_MIGRATION_URL)
#   strongroom_<service>_app    serves requests (DATABASE_RUNTIME_URL): owns nothing, NOBYPASSRLS,
#                               and gets table privileges only from the service's own migrations.
# Run by the postgres image on first start (/docker-entrypoint-initdb.d, as POSTGRES_USER), or by
# hand against any server: PGHOST=... PGUSER=postgres STRONGROOM_DB_PASSWORD=... sh 10-strongroom-databases.sh
#
# Development only: one password for every role, from STRONGROOM_DB_PASSWORD. In production the
# roles come from your provisioning (or Vault's database secrets engine), never from this script.
set -eu

: "${STRONGROOM_DB_PASSWORD:?set STRONGROOM_DB_PASSWORD (password of the strongroom_* roles)}"
SERVICES="auth tenants ledger kyc consent audit gateway"
# The postgres image runs this as POSTGRES_USER over the socket; elsewhere PGUSER/PGHOST apply.
SUPERUSER="${POSTGRES_USER:-${PGUSER:-postgres}}"

for service in $SERVICES; do
  owner="strongroom_${service}_owner"
  app="strongroom_${service}_app"
  database="strongroom_${service}"

  # psql variables (:'password', :"name") quote the values, so a password cannot break the SQL.
  psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$SUPERUSER" --dbname postgres \
    -v owner="$owner" -v app="$app" -v database="$database" -v password="$STRONGROOM_DB_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD %L', :'owner', :'password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD %L', :'app', :'password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app') \gexec
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', :'database', :'owner', 'UTF8')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'database') \gexec
-- Only the service's own roles may connect to its database.
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"database" TO :"app";
SQL

  # Inside the database: the runtime role may look up objects in public, never create them.
  psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$SUPERUSER" --dbname "$database" -v owner="$owner" -v app="$app" <<'SQL'
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO :"owner";
GRANT USAGE ON SCHEMA public TO :"app";
SQL
  echo "strongroom init: database ${database} (owner ${owner}, runtime ${app})"
done
