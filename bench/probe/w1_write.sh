#!/usr/bin/env bash
# W1 write-path probe (issue 30): nginx on loopback serving a 200 MiB file from tmpfs
# (sendfile on, as bench/run.py), then w1_write_probe's variants alternated with dd and
# `wxdl get -o`, to ext4 (a directory under bench/probe) and to tmpfs (/dev/shm); all of it
# removed at the end.
#
#     bash bench/probe/w1_write.sh [ROUNDS] [VARIANTS]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROUNDS=${1:-8}
VARIANTS=${2:-a,b,c,c0,d1,d4,e,f,dd,wxdl}
T=${CARGO_TARGET_DIR:-$ROOT/target}
PROBE=$T/release/examples/w1_write_probe
WXDL=$T/release/wxdl
[ -x "$PROBE" ] && [ -x "$WXDL" ] || {
  echo "build first: nice -n 10 cargo build --release -p wxdl-cli -p wxdl --example w1_write_probe" >&2
  exit 1
}

WORK=$(mktemp -d /tmp/w1probe.XXXXXX)
# The served file in tmpfs (as bench/run.py); outputs on the repo's filesystem and in tmpfs.
WWW=$(mktemp -d /dev/shm/w1probe-www.XXXXXX)
EXT4=$(mktemp -d "$ROOT/bench/probe/out.XXXXXX")
SHM=$(mktemp -d /dev/shm/w1probe-out.XXXXXX)
head -c $((200 * 1024 * 1024)) /dev/urandom > "$WWW/big.bin"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/nginx.conf" <<EOF
daemon off; master_process on; worker_processes 2; user root;
pid $WORK/nginx.pid; error_log $WORK/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off; sendfile on; tcp_nopush on;
  default_type application/octet-stream;
  client_body_temp_path $WORK/cb; proxy_temp_path $WORK/pt; fastcgi_temp_path $WORK/ft;
  uwsgi_temp_path $WORK/ut; scgi_temp_path $WORK/st;
  server { listen 127.0.0.1:$PORT; root $WWW; }
}
EOF
nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" &
NGINX=$!
cleanup() { kill "$NGINX" 2>/dev/null || true; wait "$NGINX" 2>/dev/null || true; rm -rf "$WORK" "$SHM" "$EXT4" "$WWW"; }
trap cleanup EXIT
for _ in $(seq 100); do curl -sf -o /dev/null -r 0-0 "http://127.0.0.1:$PORT/big.bin" && break; sleep 0.1; done

for dir in "$EXT4" "$SHM"; do
  echo "## $(df --output=fstype "$dir" | tail -1) $dir, $(date -u +%H:%M) UTC"
  "$PROBE" bench --port "$PORT" --path /big.bin --src "$WWW/big.bin" --dir "$dir" \
    --rounds "$ROUNDS" --wxdl "$WXDL" --variants "$VARIANTS" --server "$NGINX"
  echo
done
