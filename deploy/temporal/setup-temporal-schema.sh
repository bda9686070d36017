#!/bin/sh
# Create and migrate Temporal's schemas on Postgres (as samples-server/compose does).
set -eu
SCHEMA_DIR=/etc/temporal/schema/postgresql/v12
for db in temporal temporal_visibility; do
  sub=temporal; [ "$db" = temporal_visibility ] && sub=visibility
  temporal-sql-tool --plugin "$SQL_PLUGIN" --ep "$SQL_HOST" -p "$SQL_PORT" -u "$SQL_USER" --pw "$SQL_PASSWORD" --db "$db" setup-schema -v 0.0
  temporal-sql-tool --plugin "$SQL_PLUGIN" --ep "$SQL_HOST" -p "$SQL_PORT" -u "$SQL_USER" --pw "$SQL_PASSWORD" --db "$db" update-schema -d "$SCHEMA_DIR/$sub/versioned"
done
