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
# /tmp/switchyard-servers), listens on 127.0.0.1 only and on a Unix socket in that folder. Ports: SY_MYSQL_PORT,
# SY_POSTGRES_PORT, SY_REDIS_PORT when set (a port someone already listens on is refused with a message), else the
# ports this folder's servers got the first time (kept in $SY_SERVERS_DIR/ports so restarts keep their URLs), else
# free ports below the kernel's ephemeral range (net.ipv4.ip_local_port_range): the kernel never hands those out to
# an outgoing socket (a client of the tests, sipp), so no such socket holds a server's port when it starts or
# restarts, and the tests' own kernel-assigned ports never meet them. Readiness is checked over the private Unix
# sockets, never over TCP (a TCP port could belong to someone else's server).
#
# Runs as root or as an ordinary user. As root, PostgreSQL and MariaDB (which refuse or dislike root) run as the
# `postgres` / `mysql` accounts the Debian packages create; as another user they run as that user, whose OS name
# is then the servers' admin account (socket/peer authentication). Passwords are real (no --skip-grant-tables):
# the wrong-password tests need them.
set -euo pipefail

# The servers outlive this script: they must not inherit its open files (a caller's lock file, e.g. a build lock
# taken with flock, would stay held as long as the servers run). Close every descriptor above stderr.
for fd in /proc/$$/fd/*; do
  n=${fd##*/}
  if [ "$n" -gt 2 ] 2>/dev/null; then eval "exec $n>&-" 2>/dev/null || true; fi
done

DIR=${SY_SERVERS_DIR:-/tmp/switchyard-servers}
# The ports this folder's servers were given before (so `restart NAME` and `env` keep the same URLs).
MY_PORT='' PG_PORT='' RD_PORT=''
# shellcheck disable=SC1091
if [ -f "$DIR/ports" ]; then . "$DIR/ports"
elif [ -f "$DIR/env" ]; then # a folder started by an older version of this script: its env file has the ports
  MY_PORT=$(sed -n "s|^export SY_TEST_MYSQL_URL='.*:\([0-9]*\)/.*|\1|p" "$DIR/env")
  PG_PORT=$(sed -n "s|^export SY_TEST_POSTGRES_URL='.*:\([0-9]*\)/.*|\1|p" "$DIR/env")
  RD_PORT=$(sed -n "s|^export SY_TEST_REDIS_URL='.*:\([0-9]*\)/.*|\1|p" "$DIR/env")
fi
MY_PORT=${SY_MYSQL_PORT:-$MY_PORT}
PG_PORT=${SY_POSTGRES_PORT:-$PG_PORT}
RD_PORT=${SY_REDIS_PORT:-$RD_PORT}
# Admin accounts: OS root maps to MariaDB's root and PostgreSQL's postgres; another user is its own admin.
if [ "$(id -u)" -eq 0 ]; then MY_ADMIN=root PG_ADMIN=postgres; else MY_ADMIN=$(id -un) PG_ADMIN=$(id -un); fi
USER_NAME=switchyard
USER_PASS=sy-test-pw
DB_NAME=switchyard_test
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

as_user() { # as_user ACCOUNT CMD...: run as an unprivileged account when we are root
  local who=$1; shift
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$who" -- "$@"; else "$@"; fi
}

port_taken() { # port_taken PORT: something listens on 127.0.0.1:PORT
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

ephemeral_low() { # the first port of the kernel's ephemeral range (Linux's default 32768 when it cannot be read)
  local lo=32768 hi
  if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then read -r lo hi </proc/sys/net/ipv4/ip_local_port_range; fi
  echo "${lo:-32768}"
}

port_bound() { # port_bound PORT: something is bound to 127.0.0.1:PORT over TCP (without python3: listens on it)
  if command -v python3 >/dev/null; then
    ! python3 -c 'import socket, sys; s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
  else
    port_taken "$1"
  fi
}

free_port() { # free_port TAKEN...: a port below the ephemeral range, in 10000.., nobody is bound to, not in TAKEN
  local lo; lo=$(ephemeral_low)
  local top=$((lo > 10100 ? lo - 1 : 32767)) p t
  while :; do
    p=$((10000 + (RANDOM * 32768 + RANDOM) % (top - 10000 + 1)))
    for t in "$@"; do [ "$t" != "$p" ] || continue 2; done
    port_bound "$p" || { echo "$p"; return; }
  done
}

in_ephemeral() { # in_ephemeral PORT: PORT lies in the kernel's ephemeral range
  [ "$1" -ge "$(ephemeral_low)" ]
}

any_running() { # one of this folder's servers runs
  { [ -f "$DIR/mysql/mysqld.pid" ] && kill -0 "$(cat "$DIR/mysql/mysqld.pid")" 2>/dev/null; } \
    || [ -f "$DIR/pg/data/postmaster.pid" ] \
    || { [ -f "$DIR/redis/redis.pid" ] && kill -0 "$(cat "$DIR/redis/redis.pid")" 2>/dev/null; }
}

check_port() { # check_port NAME PORT: refuse a port someone else listens on (our own running server is fine)
  if port_taken "$2"; then
    echo "servers.sh: port $2 for $1 is already taken by another process: set SY_${1}_PORT to a free port," \
         "or use another SY_SERVERS_DIR (or stop the stale server)" >&2
    return 1
  fi
}

choose_ports() { # give each server a port (kept in $DIR/ports) before anything starts
  mkdir -p "$DIR"
  # Ports kept from an older version of this script may lie in the ephemeral range: chosen again while none of the
  # folder's servers runs (a port given through SY_*_PORT is kept as it is).
  if ! any_running; then
    if [ -z "${SY_MYSQL_PORT:-}" ] && [ -n "$MY_PORT" ] && in_ephemeral "$MY_PORT"; then MY_PORT=''; fi
    if [ -z "${SY_POSTGRES_PORT:-}" ] && [ -n "$PG_PORT" ] && in_ephemeral "$PG_PORT"; then PG_PORT=''; fi
    if [ -z "${SY_REDIS_PORT:-}" ] && [ -n "$RD_PORT" ] && in_ephemeral "$RD_PORT"; then RD_PORT=''; fi
  fi
  [ -n "$MY_PORT" ] || MY_PORT=$(free_port "$PG_PORT" "$RD_PORT")
  [ -n "$PG_PORT" ] || PG_PORT=$(free_port "$MY_PORT" "$RD_PORT")
  [ -n "$RD_PORT" ] || RD_PORT=$(free_port "$MY_PORT" "$PG_PORT")
  printf 'MY_PORT=%s\nPG_PORT=%s\nRD_PORT=%s\n' "$MY_PORT" "$PG_PORT" "$RD_PORT" >"$DIR/ports"
}

wait_for() { # wait_for WHAT SECONDS CMD...: poll until CMD succeeds
  local what=$1 secs=$2; shift 2
  local i
  for ((i = 0; i < secs * 10; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "servers.sh: $what did not come up within ${secs}s (see the logs under $DIR)" >&2
  return 1
}

mysql_admin() { mariadb --no-defaults --protocol=socket -S "$DIR/mysql/mysqld.sock" -u"$MY_ADMIN" "$@"; }

start_mysql() {
  command -v mariadbd >/dev/null || { echo "servers.sh: mariadb-server is not installed" >&2; return 1; }
  mkdir -p "$DIR/mysql"
  if [ "$(id -u)" -eq 0 ]; then chown mysql: "$DIR/mysql"; fi
  if [ ! -d "$DIR/mysql/data/mysql" ]; then
    as_user mysql mariadb-install-db --no-defaults --datadir="$DIR/mysql/data" --auth-root-authentication-method=socket \
      --auth-root-socket-user="$MY_ADMIN" --skip-test-db >"$DIR/mysql-install.log" 2>&1
  fi
  if [ -f "$DIR/mysql/mysqld.pid" ] && kill -0 "$(cat "$DIR/mysql/mysqld.pid")" 2>/dev/null; then return 0; fi
  check_port MYSQL "$MY_PORT"
  # The error log in the server's own folder: the server runs as `mysql` and could not write beside it.
  as_user mysql mariadbd --no-defaults --datadir="$DIR/mysql/data" --socket="$DIR/mysql/mysqld.sock" \
    --port="$MY_PORT" --bind-address=127.0.0.1 --pid-file="$DIR/mysql/mysqld.pid" --log-error="$DIR/mysql/mysqld.log" \
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
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$DIR/pg"; fi
  if [ ! -f "$DIR/pg/data/PG_VERSION" ]; then
    printf '%s\n' "$USER_PASS" >"$DIR/pg/pw"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$DIR/pg/pw"; fi
    as_user postgres "$PG_BIN/initdb" -D "$DIR/pg/data" -U "$PG_ADMIN" --pwfile="$DIR/pg/pw" \
      --auth-local=peer --auth-host=scram-sha-256 >"$DIR/pg-install.log" 2>&1
    # Unix-socket logins of the test user need its password too (the wrong-password test uses both paths).
    sed -i '0,/^local/s//local   all   switchyard   scram-sha-256\nlocal/' "$DIR/pg/data/pg_hba.conf"
  fi
  if as_user postgres "$PG_BIN/pg_ctl" -D "$DIR/pg/data" status >/dev/null 2>&1; then return 0; fi
  check_port POSTGRES "$PG_PORT"
  as_user postgres "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/postgres.log" -w -t 60 \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$DIR/pg -c fsync=off -c max_connections=200" \
    start >/dev/null
  local psql=("$PG_BIN/psql" -h "$DIR/pg" -p "$PG_PORT" -U "$PG_ADMIN" -d postgres -v ON_ERROR_STOP=1 -qAt)
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
  check_port REDIS "$RD_PORT"
  redis-server --port "$RD_PORT" --bind 127.0.0.1 --dir "$DIR/redis" --daemonize yes \
    --pidfile "$DIR/redis/redis.pid" --logfile "$DIR/redis/redis.log" --save "" --appendonly no \
    --unixsocket "$DIR/redis/redis.sock" >/dev/null
  wait_for Redis 30 redis_ping
}

redis_ping() { [ "$(redis-cli -s "$DIR/redis/redis.sock" ping 2>/dev/null)" = PONG ]; }

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
    choose_ports
    start_mysql; start_postgres; start_redis
    print_env >"$DIR/env"
    echo "servers.sh: MariaDB :$MY_PORT, PostgreSQL :$PG_PORT, Redis :$RD_PORT in $DIR (env: $DIR/env)"
    ;;
  stop) stop_redis; stop_postgres; stop_mysql ;;
  restart) choose_ports; one stop "${2:-}"; one start "${2:-}" ;;
  stopone) one stop "${2:-}" ;;
  startone) choose_ports; one start "${2:-}" ;;
  env)
    [ -n "$MY_PORT" ] && [ -n "$PG_PORT" ] && [ -n "$RD_PORT" ] \
      || { echo "servers.sh: no servers in $DIR yet (run: $0 start)" >&2; exit 1; }
    print_env ;;
  *) echo "usage: $0 start|stop|env|restart NAME|stopone NAME|startone NAME" >&2; exit 2 ;;
esac
