# Versions of the swarm configs (bump when the file changes: configs are immutable).
export PG_BACKUP_VERSION=v1
