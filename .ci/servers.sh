#!/usr/bin/env bash
# Private MariaDB, PostgreSQL and Redis instances for the backend tests, on loopback ports, in a scratch folder.
#
#   .ci/servers.sh start            start all three (idempotent), create the test users/databases, write the env file
#   .ci/servers.sh stop             stop all three (always safe to call)
#   .ci/servers.sh restart NAME     stop and start one (mysql|postgres|redis): the tests' "server restart" step
#   .ci/servers.sh stopone NAME     stop one; startone NAME starts it again (data kept)
#   .ci/servers.sh env              print the `export` lines the tests read (eval "$(.ci/servers.sh env)")
#
# Nothing touches the system's own instances: every server has its own data folder under $SY_SERVERS_DIR (default
# /tmp/switchyard-servers), listens on 127.0.0.1 only (ports 26306, 26432, 26379 unless SY_MYSQL_PORT,
# SY_POSTGRES_PORT, SY_REDIS_PORT say otherwise) and on a Unix socket in that folder. PostgreSQL refuses to run as
# root and MariaDB wants an unprivileged user, so when run as root they run as the `postgres` / `mysql` accounts the
# Debian packages create. Passwords are real (no --skip-grant-tables): the wrong-password tests need them.
set -euo pipefail

# The servers outlive this script: they must not inherit its open files (a caller's lock file, e.g. a build lock
# taken with flock, would stay held as long as the servers run). Close every descriptor above stderr.
for fd in /proc/$$/fd/*; do
  n=${fd##*/}
  if [ "$n" -gt 2 ] 2>/dev/null; then eval "exec $n>&-" 2>/dev/null || true; fi
done

DIR=${SY_SERVERS_DIR:-/tmp/switchyard-servers}
MY_PORT=${SY_MYSQL_PORT:-26306}
PG_PORT=${SY_POSTGRES_PORT:-26432}
RD_PORT=${SY_REDIS_PORT:-26379}
USER_NAME=switchyard
USER_PASS=sy-test-pw
DB_NAME=switchyard_test
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

as_user() { # as_user ACCOUNT CMD...: run as an unprivileged account when we are root
  local who=$1; shift
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$who" -- "$@"; else "$@"; fi
}

wait_for() { # wait_for WHAT SECONDS CMD...: poll until CMD succeeds
  local what=$1 secs=$2; shift 2
  local i
  for ((i = 0; i < secs * 10; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "servers.sh: $what did not come up within ${secs}s (see $DIR/*.log)" >&2
  return 1
}

mysql_admin() { mariadb --no-defaults --protocol=socket -S "$DIR/mysql/mysqld.sock" -uroot "$@"; }

start_mysql() {
  command -v mariadbd >/dev/null || { echo "servers.sh: mariadb-server is not installed" >&2; return 1; }
  mkdir -p "$DIR/mysql"
  [ "$(id -u)" -eq 0 ] && chown mysql: "$DIR/mysql"
  if [ ! -d "$DIR/mysql/data/mysql" ]; then
    as_user mysql mariadb-install-db --no-defaults --datadir="$DIR/mysql/data" --auth-root-authentication-method=socket \
      --skip-test-db >"$DIR/mysql-install.log" 2>&1
  fi
  if [ -f "$DIR/mysql/mysqld.pid" ] && kill -0 "$(cat "$DIR/mysql/mysqld.pid")" 2>/dev/null; then return 0; fi
  as_user mysql mariadbd --no-defaults --datadir="$DIR/mysql/data" --socket="$DIR/mysql/mysqld.sock" \
    --port="$MY_PORT" --bind-address=127.0.0.1 --pid-file="$DIR/mysql/mysqld.pid" --log-error="$DIR/mysql.log" \
    --skip-name-resolve --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci --innodb-buffer-pool-size=64M --innodb-flush-log-at-trx-commit=2 >/dev/null 2>&1 &
  wait_for MariaDB 60 mysql_admin -e "SELECT 1"
  mysql_admin <<SQL
CREATE DATABASE IF NOT EXISTS $DB_NAME CHARACTER SET utf8mb4;
ALTER DATABASE $DB_NAME CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS '$USER_NAME'@'%' IDENTIFIED BY '$USER_PASS';
CREATE USER IF NOT EXISTS '$USER_NAME'@'localhost' IDENTIFIED BY '$USER_PASS';
GRANT ALL ON *.* TO '$USER_NAME'@'%';
GRANT ALL ON *.* TO '$USER_NAME'@'localhost';
FLUSH PRIVILEGES;
SQL
}

stop_mysql() {
  local pidf="$DIR/mysql/mysqld.pid"
  [ -f "$pidf" ] || return 0
  local pid; pid=$(cat "$pidf")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$pidf"
}

start_postgres() {
  [ -n "$PG_BIN" ] || { echo "servers.sh: postgresql is not installed" >&2; return 1; }
  mkdir -p "$DIR/pg"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$DIR/pg"
  if [ ! -f "$DIR/pg/data/PG_VERSION" ]; then
    printf '%s\n' "$USER_PASS" >"$DIR/pg/pw"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$DIR/pg/pw"
    as_user postgres "$PG_BIN/initdb" -D "$DIR/pg/data" -U postgres --pwfile="$DIR/pg/pw" \
      --auth-local=peer --auth-host=scram-sha-256 >"$DIR/pg-install.log" 2>&1
    # Unix-socket logins of the test user need its password too (the wrong-password test uses both paths).
    sed -i '0,/^local/s//local   all   switchyard   scram-sha-256\nlocal/' "$DIR/pg/data/pg_hba.conf"
  fi
  if as_user postgres "$PG_BIN/pg_ctl" -D "$DIR/pg/data" status >/dev/null 2>&1; then return 0; fi
  as_user postgres "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/postgres.log" -w -t 60 \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$DIR/pg -c fsync=off -c max_connections=200" \
    start >/dev/null
  local psql=("$PG_BIN/psql" -h "$DIR/pg" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt)
  if [ -z "$(as_user postgres "${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = '$USER_NAME'")" ]; then
    as_user postgres "${psql[@]}" -c "CREATE ROLE $USER_NAME LOGIN CREATEDB PASSWORD '$USER_PASS'"
  fi
  if [ -z "$(as_user postgres "${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" ]; then
    as_user postgres "${psql[@]}" -c "CREATE DATABASE $DB_NAME OWNER $USER_NAME"
  fi
}

stop_postgres() {
  [ -n "$PG_BIN" ] && [ -f "$DIR/pg/data/postmaster.pid" ] || return 0
  as_user postgres "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}

start_redis() {
  command -v redis-server >/dev/null || { echo "servers.sh: redis-server is not installed" >&2; return 1; }
  mkdir -p "$DIR/redis"
  if [ -f "$DIR/redis/redis.pid" ] && kill -0 "$(cat "$DIR/redis/redis.pid")" 2>/dev/null; then return 0; fi
  redis-server --port "$RD_PORT" --bind 127.0.0.1 --dir "$DIR/redis" --daemonize yes \
    --pidfile "$DIR/redis/redis.pid" --logfile "$DIR/redis.log" --save "" --appendonly no \
    --unixsocket "$DIR/redis/redis.sock" >/dev/null
  wait_for Redis 30 redis-cli -p "$RD_PORT" ping
}

stop_redis() {
  local pidf="$DIR/redis/redis.pid"
  [ -f "$pidf" ] || return 0
  local pid; pid=$(cat "$pidf")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$pidf"
}

print_env() {
  cat <<ENV
export SY_TEST_MYSQL_URL='mysql://$USER_NAME:$USER_PASS@127.0.0.1:$MY_PORT/$DB_NAME'
export SY_TEST_MYSQL_SOCKET='$DIR/mysql/mysqld.sock'
export SY_TEST_POSTGRES_URL='postgres://$USER_NAME:$USER_PASS@127.0.0.1:$PG_PORT/$DB_NAME'
export SY_TEST_POSTGRES_SOCKET_DIR='$DIR/pg'
export SY_TEST_REDIS_URL='redis://127.0.0.1:$RD_PORT/'
export SY_TEST_SERVERS_CTL='$(cd "$(dirname "$0")" && pwd)/servers.sh'
export SY_SERVERS_DIR='$DIR'
ENV
}

one() { # one ACTION NAME
  case "$2" in
    mysql|mariadb) "$1_mysql" ;;
    postgres|postgresql|pg) "$1_postgres" ;;
    redis) "$1_redis" ;;
    *) echo "servers.sh: unknown server '$2' (mysql, postgres, redis)" >&2; return 2 ;;
  esac
}

case "${1:-}" in
  start)
    mkdir -p "$DIR"; chmod 755 "$DIR"
    start_mysql; start_postgres; start_redis
    print_env >"$DIR/env"
    echo "servers.sh: MariaDB :$MY_PORT, PostgreSQL :$PG_PORT, Redis :$RD_PORT in $DIR (env: $DIR/env)"
    ;;
  stop) stop_redis; stop_postgres; stop_mysql ;;
  restart) one stop "${2:-}"; one start "${2:-}" ;;
  stopone) one stop "${2:-}" ;;
  startone) one start "${2:-}" ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|env|restart NAME|stopone NAME|startone NAME" >&2; exit 2 ;;
esac
