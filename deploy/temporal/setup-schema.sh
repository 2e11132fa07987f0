#!/bin/sh
# One-shot job (admin-tools image): create Temporal's two PostgreSQL databases and bring their
# schemas to the image's version. Safe to run again: `create` of an existing database fails
# harmlessly and `update-schema` applies only what is missing.
set -eu
for database in temporal temporal_visibility; do
  case "$database" in
    temporal) schema=temporal ;;
    *) schema=visibility ;;
  esac
  # The password comes from SQL_PASSWORD in the environment.
  sql() { temporal-sql-tool --plugin postgres12 --ep postgres -p 5432 -u "$POSTGRES_USER" \
    --db "$database" "$@"; }
  sql create || true
  sql setup-schema -v 0.0 || true
  sql update-schema -d "/etc/temporal/schema/postgresql/v12/$schema/versioned"
done
echo "Temporal schemas are current"
