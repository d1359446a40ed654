#!/usr/bin/env bash
# Builds a Debian bookworm root file system with Python 3.11 at $1, trimmed the way
# Debian's official slim images are: no documentation, man pages or locales, no
# package lists or downloaded packages, services never started by package installs.
# deploy/local-images.sh imports it as the stand-in for the python:3.11 slim image.
#
#   rootfs.sh TARGET_DIR [CA_BUNDLE]
#
# CA_BUNDLE (default: none) replaces the root file system's CA bundle, so that builds
# inside the image trust what the building machine trusts (a TLS-inspecting proxy in
# front of the package index, for instance).
set -euo pipefail

target=$1
ca_bundle=${2:-}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

# python-is-python3: the official image's "python" command, which the Dockerfiles use.
debootstrap --variant=minbase \
  --include=python3,python3-venv,python-is-python3,ca-certificates \
  bookworm "$target" "$mirror"

cat >"$target/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security_mirror bookworm-security main
SOURCES

# As in Debian's official images: package scripts never start services during a
# build, and documentation, man pages and translations are not installed.
printf '#!/bin/sh\nexit 101\n' >"$target/usr/sbin/policy-rc.d"
chmod 755 "$target/usr/sbin/policy-rc.d"
cat >"$target/etc/dpkg/dpkg.cfg.d/excludes" <<'EXCLUDES'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EXCLUDES
cat >"$target/etc/apt/apt.conf.d/docker-clean" <<'APTCLEAN'
APT::Install-Recommends "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
Acquire::Languages "none";
APTCLEAN

# Point releases and security fixes since the bookworm release, as the official
# images have them.
chroot "$target" apt-get update -qq
DEBIAN_FRONTEND=noninteractive chroot "$target" apt-get upgrade -y -qq >/dev/null

if [ -n "$ca_bundle" ]; then
  cp "$ca_bundle" "$target/etc/ssl/certs/ca-certificates.crt"
fi

find "$target/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$target/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$target"/usr/share/man/* "$target"/usr/share/info/* "$target"/var/cache/apt/* \
  "$target"/var/lib/apt/lists/* "$target"/var/log/*.log "$target"/var/log/apt/*
find "$target/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
