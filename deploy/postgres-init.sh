#!/bin/sh
# The two roles of "Running in production" and their database, made once by a PostgreSQL superuser: an owner that
# owns the database and runs the migrations, and a runtime role that the servers and workers connect as, which owns
# nothing (it cannot switch the audit trail's triggers off). compose.yaml runs it on the database's first start
# (/docker-entrypoint-initdb.d); elsewhere run it with psql's usual PG* variables pointing at the server.
# Then, as the owner: accessdesk db upgrade && accessdesk db grant-runtime --role "$ACCESSDESK_DB_APP_ROLE".
set -eu
: "${ACCESSDESK_DB_OWNER_PASSWORD:?set the owner role's password}"
: "${ACCESSDESK_DB_APP_PASSWORD:?set the runtime role's password}"
psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-${PGUSER:-postgres}}" --dbname postgres \
    -v database="${ACCESSDESK_DB_NAME:-accessdesk}" \
    -v owner="${ACCESSDESK_DB_OWNER:-accessdesk_owner}" -v owner_password="$ACCESSDESK_DB_OWNER_PASSWORD" \
    -v app="${ACCESSDESK_DB_APP_ROLE:-accessdesk_app}" -v app_password="$ACCESSDESK_DB_APP_PASSWORD" <<'SQL'
CREATE ROLE :"owner" LOGIN PASSWORD :'owner_password';
CREATE ROLE :"app" LOGIN PASSWORD :'app_password';
CREATE DATABASE :"database" OWNER :"owner";
-- Nobody else connects; db grant-runtime gives the runtime role CONNECT.
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
SQL
