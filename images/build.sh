#!/usr/bin/env bash
# Build the base images this project needs from the Debian archive, where no
# container registry can serve them. Users with a registry skip this and point
# the image variables (image_base_image, stack_nginx_image, ...) at public images.
#
#   images/build.sh [host|python|nginx ...]   (default: all)
#
# An image whose tag already exists is kept when it was built from the same
# recipe (its label pyweb.recipe, bumped below when a recipe changes); FORCE=1
# rebuilds it.
# Environment: SUITE (trixie), MIRROR (http://deb.debian.org/debian), PREFIX (pyweb).
set -euo pipefail

SUITE=${SUITE:-trixie}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
PREFIX=${PREFIX:-pyweb}
WORK=${WORK:-$(mktemp -d)}
trap 'rm -rf "$WORK"' EXIT

# have TAG [RECIPE]: the image exists, built from RECIPE.
have() {
  [ "${FORCE:-0}" != 1 ] || return 1
  local found
  found=$(docker image inspect --format '{{ index .Config.Labels "pyweb.recipe" }}' "$1" 2>/dev/null) || return 1
  [ "$found" != "<no value>" ] || found=""
  [ "$found" = "${2:-}" ]
}

# mmdebstrap ROOTFS_TAR INCLUDES [extra mmdebstrap args...]
rootfs() {
  local out=$1 include=$2
  shift 2
  mmdebstrap --quiet --variant=minbase --include="$include" \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    "$@" "$SUITE" "$out" "$MIRROR"
}

# A systemd host, as Molecule and the lab use it: a stand-in for a real server.
# The .deb files the docker and balancer roles install are downloaded into the
# apt cache (and the package lists kept), so converging needs no network and
# is quick.
HOST_RECIPE=3  # 2: keepalived for balancer pairs; 3: iputils-ping (its uplink check)
build_host() {
  local tag="$PREFIX/host:$SUITE"
  have "$tag" "$HOST_RECIPE" && { echo "kept $tag"; return; }
  # shellcheck disable=SC2016  # the hooks' "$1" is mmdebstrap's (the chroot), expanded by it, not here
  rootfs "$WORK/host.tar" systemd,systemd-sysv,dbus,python3,python3-apt,iproute2,ca-certificates,procps,curl,sudo \
    --skip=cleanup/apt \
    --customize-hook='chroot "$1" apt-get install --download-only -y docker.io docker-cli docker-compose python3-requests apparmor keepalived iputils-ping' \
    --customize-hook='chroot "$1" systemctl mask systemd-modules-load.service getty@tty1.service' \
    --customize-hook='rm -f "$1"/etc/machine-id && touch "$1"/etc/machine-id'
  docker import --change 'ENV container=docker' --change 'CMD ["/lib/systemd/systemd"]' \
    --change "LABEL pyweb.recipe=$HOST_RECIPE" "$WORK/host.tar" "$tag" >/dev/null
  echo "built $tag"
}

# Python runtime for the app image (python3 + venv, nothing else).
build_python() {
  local tag="$PREFIX/python:3-$SUITE"
  have "$tag" && { echo "kept $tag"; return; }
  rootfs "$WORK/python.tar" python3,python3-venv,ca-certificates
  docker import --change 'CMD ["python3"]' "$WORK/python.tar" "$tag" >/dev/null
  echo "built $tag"
}

# Nginx for the host proxy and the edge balancer. Runs as www-data on
# unprivileged ports, logs to stdout/stderr; configuration is mounted.
build_nginx() {
  local tag="$PREFIX/nginx:$SUITE"
  have "$tag" && { echo "kept $tag"; return; }
  # shellcheck disable=SC2016  # the hooks' "$1" is mmdebstrap's (the chroot), expanded by it, not here
  rootfs "$WORK/nginx.tar" nginx,ca-certificates \
    --customize-hook='rm -rf "$1"/etc/nginx/sites-enabled/* "$1"/var/www/html/*' \
    --customize-hook='ln -sf /dev/stdout "$1"/var/log/nginx/access.log; ln -sf /dev/stderr "$1"/var/log/nginx/error.log'
  docker import --change 'CMD ["nginx", "-e", "stderr", "-g", "daemon off;"]' \
    "$WORK/nginx.tar" "$tag" >/dev/null
  echo "built $tag"
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(host python nginx)
for t in "${targets[@]}"; do
  case "$t" in
    host) build_host ;;
    python) build_python ;;
    nginx) build_nginx ;;
    *) echo "images/build.sh: unknown image '$t' (host, python, nginx)" >&2; exit 2 ;;
  esac
done
