#!/usr/bin/env bash
# Prepares a machine that cannot pull from an image registry to run the compose stack:
#
#   1. installs Docker and docker-compose (Debian's packages) and starts the engine
#      if it is not running;
#   2. builds a Debian bookworm + Python 3.11 base image with debootstrap, standing in
#      for python:3.11-slim-bookworm;
#   3. builds stand-ins for the other registry images docker-compose.yml names, from
#      Debian's packages and this project: PostgreSQL, Redis, and the project's own
#      model server in place of tensorflow/serving (deploy/stand-ins/);
#   4. builds the gateway image from the real Dockerfile and the proxy image from
#      deploy/proxy/Dockerfile, both with PYTHON_IMAGE set to the local base.
#
# deploy/compose.local.yml then swaps these images into docker-compose.yml:
#   docker-compose -f docker-compose.yml -f deploy/compose.local.yml up
#
# Stand-ins are named stand-in/<name> and labelled (org.opencontainers.image.title and
# tfserving-gateway.stand-in-for); none carries an upstream image's name. Each is
# tagged with a digest of everything it is built from and reused while that digest is
# unchanged, so a second run only rebuilds the gateway and proxy (from Docker's layer
# cache when their sources are unchanged).
#
# Exit status 3: Docker cannot run on this machine (the reason is printed); any other
# failure exits 1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STAND_INS=$ROOT/deploy/stand-ins
STATE_DIR=$ROOT/var/local-images
# The host's CA bundle goes into the base image, so that pip inside the builds reaches
# the package index exactly as this machine does.
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[ -f "$CA_BUNDLE" ] || CA_BUNDLE=
LABEL_PREFIX=tfserving-gateway

BASE_IMAGE=stand-in/python:3.11-bookworm
POSTGRES_IMAGE=stand-in/postgres:15-bookworm
REDIS_IMAGE=stand-in/redis:7.0-bookworm
MODELSERVER_IMAGE=stand-in/tensorflow-serving:modelserver
GATEWAY_IMAGE=tfserving-gateway:stand-in-base
PROXY_IMAGE=tfserving-gateway-proxy:stand-in-base

log() { printf '%s local-images: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
cannot_run_docker() {
  log "Docker cannot run here: $*"
  exit 3
}

# Runs "$@" and logs how long it took, for the README's build times.
timed() {
  local what=$1 start=$SECONDS
  shift
  "$@"
  log "$what: $((SECONDS - start)) s"
}

ensure_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ ${#missing[@]} -eq 0 ] && return
  command -v apt-get >/dev/null || cannot_run_docker "no apt-get to install ${missing[*]}"
  [ "$(id -u)" -eq 0 ] || cannot_run_docker "installing ${missing[*]} needs root"
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_docker_running() {
  local refused
  refused=$(docker info 2>&1 >/dev/null) && return
  [ "$(id -u)" -eq 0 ] \
    || cannot_run_docker "no engine answers ($(tail -1 <<<"$refused")) and starting one needs root"
  log "starting the Docker engine"
  if [ -d /run/systemd/system ]; then
    systemctl start docker
  else
    # No systemd (a container, a CI runner). Not Debian's /etc/init.d/docker: it
    # raises the open-files limit first and stops when it may not, as in containers.
    mkdir -p "$STATE_DIR"
    setsid dockerd >"$STATE_DIR/dockerd.log" 2>&1 </dev/null &
  fi
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && return
    sleep 1
  done
  cannot_run_docker "the engine did not answer within 60 s (its log: journalctl -u docker, or $STATE_DIR/dockerd.log)"
}

# The digest a stand-in is tagged and labelled with: its build inputs.
inputs_digest() { sha256sum | cut -c1-16; }

image_label() {
  docker image inspect --format "{{ index .Config.Labels \"$LABEL_PREFIX.$2\" }}" "$1" 2>/dev/null \
    || true
}

build_base_image() {
  local digest
  digest=$(cat "$STAND_INS/base/rootfs.sh" ${CA_BUNDLE:+"$CA_BUNDLE"} | inputs_digest)
  if [ "$(image_label "$BASE_IMAGE" inputs)" = "$digest" ]; then
    log "$BASE_IMAGE: up to date (inputs $digest)"
    return
  fi
  local work
  work=$(mktemp -d "${TMPDIR:-/tmp}/stand-in-rootfs.XXXXXX")
  # shellcheck disable=SC2064  # expand $work now: it is local to this function
  trap "rm -rf '$work'" EXIT
  log "$BASE_IMAGE: debootstrap bookworm (about a minute)"
  "$STAND_INS/base/rootfs.sh" "$work/rootfs" "$CA_BUNDLE" >"$work/rootfs.log" 2>&1 \
    || { tail -20 "$work/rootfs.log" >&2; exit 1; }
  tar -C "$work/rootfs" --numeric-owner -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$BASE_IMAGE-unlabelled" >/dev/null
  labelled "$BASE_IMAGE-unlabelled" "$BASE_IMAGE" "$digest" "python:3.11-slim-bookworm" \
    "Debian bookworm (debootstrap) with Debian's Python 3.11 and this machine's CA bundle"
  docker image rm "$BASE_IMAGE-unlabelled" >/dev/null
  rm -rf "$work"
  trap - EXIT
}

# Adds the stand-in labels to an image (docker import cannot set labels).
labelled() {
  local from=$1 to=$2 digest=$3 upstream=$4 description=$5
  docker build --quiet --tag "$to" \
    --label "org.opencontainers.image.title=Local stand-in for $upstream" \
    --label "org.opencontainers.image.description=$description" \
    --label "$LABEL_PREFIX.stand-in-for=$upstream" \
    --label "$LABEL_PREFIX.inputs=$digest" \
    - >/dev/null <<<"FROM $from"
}

# build_stand_in IMAGE UPSTREAM DESCRIPTION DIR [PROJECT_PATH...]
# The build context is a reproducible tar of deploy/stand-ins/DIR plus the project
# paths the image copies; its digest, with the base image's id, keys the image.
build_stand_in() {
  local image=$1 upstream=$2 description=$3 dir=$4
  shift 4
  local context digest
  context=$(mktemp "${TMPDIR:-/tmp}/stand-in-context.XXXXXX")
  tar -C "$ROOT" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    --exclude=__pycache__ --exclude='*.pyc' \
    --transform "s|^deploy/stand-ins/$dir/||" \
    -cf "$context" "deploy/stand-ins/$dir" "$@"
  digest=$( (docker image inspect --format '{{.Id}}' "$BASE_IMAGE"; cat "$context") | inputs_digest)
  if [ "$(image_label "$image" inputs)" = "$digest" ]; then
    log "$image: up to date (inputs $digest)"
    rm -f "$context"
    return
  fi
  log "$image: building"
  docker build --quiet --build-arg "BASE_IMAGE=$BASE_IMAGE" --tag "$image" \
    --label "org.opencontainers.image.title=Local stand-in for $upstream" \
    --label "org.opencontainers.image.description=$description" \
    --label "$LABEL_PREFIX.stand-in-for=$upstream" \
    --label "$LABEL_PREFIX.inputs=$digest" \
    - <"$context" >/dev/null
  rm -f "$context"
}

# The project's own images, from the Dockerfiles production builds, on the local base.
build_project_image() {
  local image=$1
  shift
  docker build --quiet --build-arg "PYTHON_IMAGE=$BASE_IMAGE" \
    --label "$LABEL_PREFIX.base=$BASE_IMAGE" --tag "$image" "$@" >/dev/null
}

main() {
  local start=$SECONDS
  ensure_packages
  ensure_docker_running
  timed "$BASE_IMAGE" build_base_image
  timed "$POSTGRES_IMAGE" build_stand_in "$POSTGRES_IMAGE" postgres:15.14-bookworm \
    "PostgreSQL 15 from Debian bookworm's postgresql-15 package" postgres
  timed "$REDIS_IMAGE" build_stand_in "$REDIS_IMAGE" redis:7.4.5-bookworm \
    "Redis 7.0 from Debian bookworm's redis-server package" redis
  # modelserver/ and tfserving/, the REST codec and tracing it shares with the gateway.
  timed "$MODELSERVER_IMAGE" build_stand_in "$MODELSERVER_IMAGE" tensorflow/serving:2.20.0 \
    "The project's modelserver (TensorFlow, TF Serving's flags) as tensorflow_model_server" \
    modelserver modelserver tfserving
  timed "$GATEWAY_IMAGE" build_project_image "$GATEWAY_IMAGE" "$ROOT"
  timed "$PROXY_IMAGE" build_project_image "$PROXY_IMAGE" "$ROOT/deploy/proxy"
  log "all images ready in $((SECONDS - start)) s"
  docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' \
    | grep -E "^(stand-in/|tfserving-gateway)" | grep -v -- '-unlabelled' >&2
}

main "$@"
