#!/usr/bin/env bash
# Calls/s through ds_select_dst + stateless forward(): Switchyard's dispatcher next to Kamailio's (Debian kamailio),
# same set of three destinations, same algorithm (Call-ID hash), measured by bench.sh (highest clean call rate, proxy
# CPU per call). Options are bench.sh's (e.g. --quick). Needs the release build (swift build -c release).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
T=$(mktemp -d /tmp/sy-dsbench.XXXXXX)
trap 'rm -rf "$T"' EXIT
sqlite3 "$T/ds.db" < "$ROOT/Plugins/dispatcher/schema/sqlite.sql"
sqlite3 "$T/ds.db" "INSERT INTO dispatcher (setid, destination) VALUES (1, 'sip:127.0.0.1:5090'), (1, 'sip:127.0.0.1:5090;d=2'), (1, 'sip:127.0.0.1:5090;d=3');"
sed "s|@DB@|$T/ds.db|" "$HERE/dispatcher/switchyard.cfg" > "$T/switchyard.cfg"
sed "s|@LIST@|$HERE/dispatcher/kamailio.list|" "$HERE/dispatcher/kamailio.cfg" > "$T/kamailio.cfg"
KAM_CFG_SRC="$T/kamailio.cfg" SY_CFG_SRC="$T/switchyard.cfg" "$HERE/bench.sh" --only kamailio-fm,switchyard "$@"
