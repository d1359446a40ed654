#!/bin/sh
# Renders nginx.conf.template (next to this script, or PROXY_TEMPLATE) with the
# environment into PROXY_STATE_DIR and runs nginx in the foreground on it; nginx is
# PID 1 in the container and stops on SIGQUIT (graceful) or SIGTERM (fast).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
template=${PROXY_TEMPLATE:-$here/nginx.conf.template}

export PROXY_LISTEN_PORT="${PROXY_LISTEN_PORT:-8080}"
export GATEWAY_UPSTREAM="${GATEWAY_UPSTREAM:-127.0.0.1:8000}"
export MAX_REQUEST_BYTES="${MAX_REQUEST_BYTES:-33554432}"
export PROXY_FORWARDED_PROTO="${PROXY_FORWARDED_PROTO:-\$scheme}"
export PROXY_STATE_DIR="${PROXY_STATE_DIR:-/tmp/nginx}"
if [ -z "${PROXY_RESOLVER:-}" ]; then
  # The resolver this machine or container uses (Docker's 127.0.0.11 on a compose
  # network, the cluster DNS in Kubernetes); IPv6 addresses need brackets in nginx.
  PROXY_RESOLVER=$(awk '$1 == "nameserver" { print $2; exit }' /etc/resolv.conf)
  case "$PROXY_RESOLVER" in
    *:*) PROXY_RESOLVER="[$PROXY_RESOLVER]" ;;
  esac
fi
export PROXY_RESOLVER="${PROXY_RESOLVER:-127.0.0.1}"

mkdir -p "$PROXY_STATE_DIR"
PROXY_STATE_DIR=$(cd "$PROXY_STATE_DIR" && pwd)
export PROXY_STATE_DIR
envsubst '${PROXY_LISTEN_PORT} ${GATEWAY_UPSTREAM} ${MAX_REQUEST_BYTES} ${PROXY_FORWARDED_PROTO} ${PROXY_RESOLVER} ${PROXY_STATE_DIR}' \
  <"$template" >"$PROXY_STATE_DIR/nginx.conf"
# -e: the error log before the configuration is read (the packaged default is under
# /var/log, which is read-only here). -p: relative paths, if any, under the state dir.
exec nginx -e stderr -p "$PROXY_STATE_DIR" -c "$PROXY_STATE_DIR/nginx.conf" -g 'daemon off;'
