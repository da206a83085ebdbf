#!/usr/bin/env bash
# Creates the PostgreSQL role and database the test suite uses (`npm run db:test`; also run by .ci/run):
# role statusgate (password statusgate), database statusgate_test owned by it, on the local server.
# Needs a running server and the postgres superuser: run as root or with sudo rights. Safe to run twice.
set -euo pipefail

as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    su postgres -c "$1"
  elif [ "$(id -un)" = postgres ]; then
    bash -c "$1"
  else
    sudo -u postgres bash -c "$1"
  fi
}

if ! as_postgres "psql -qAtc 'select 1'" >/dev/null; then
  echo "test-database: the local PostgreSQL server does not answer as user postgres (start it: pg_ctlcluster 15 main start)" >&2
  exit 1
fi
as_postgres "psql -v ON_ERROR_STOP=1 -qAt" <<'SQL'
DO $$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'statusgate') THEN
    CREATE ROLE statusgate LOGIN PASSWORD 'statusgate' CREATEDB;
  END IF;
END$$;
SQL
if ! as_postgres "psql -qAtc \"select 1 from pg_database where datname = 'statusgate_test'\"" | grep -q 1; then
  as_postgres "createdb -O statusgate statusgate_test"
fi
echo "test-database: role statusgate and database statusgate_test ready (TEST_DATABASE_URL=postgres://statusgate:statusgate@127.0.0.1:5432/statusgate_test)"
