#!/bin/bash
# backupbot's hooks for the db service (as Co-op Cloud's recipes carry it):
#   /pg_backup.sh backup    dump the database to backup.sql in its volume
#   /pg_backup.sh restore   drop and recreate the database, load backup.sql
set -e

BACKUP_FILE='/var/lib/postgresql/data/backup.sql'

function backup {
  export PGPASSWORD=$(cat /run/secrets/db_password)
  pg_dump -U ${POSTGRES_USER} ${POSTGRES_DB} > $BACKUP_FILE.part
  mv $BACKUP_FILE.part $BACKUP_FILE
}

function restore {
  cd /var/lib/postgresql/data/
  restore_config(){
    # Restore allowed connections
    cat pg_hba.conf.bak > pg_hba.conf
    su postgres -c 'pg_ctl reload'
  }
  # Don't allow any other connections than local
  cp pg_hba.conf pg_hba.conf.bak
  echo "local all all trust" > pg_hba.conf
  su postgres -c 'pg_ctl reload'
  trap restore_config EXIT INT TERM

  # Recreate Database
  psql -U ${POSTGRES_USER} -d postgres -c "DROP DATABASE ${POSTGRES_DB} WITH (FORCE);"
  createdb -U ${POSTGRES_USER} ${POSTGRES_DB}
  psql -U ${POSTGRES_USER} -d ${POSTGRES_DB} -1 -v ON_ERROR_STOP=1 -q -f $BACKUP_FILE > /dev/null

  trap - EXIT INT TERM
  restore_config
}

$@
