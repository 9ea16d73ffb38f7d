#!/usr/bin/env bash
# Build the base images this project needs from the Debian (and Ubuntu)
# archives, where no container registry can serve them. Users with a registry
# skip this and point the image variables (image_base_image, stack_nginx_image,
# ...) at public images.
#
#   images/build.sh [host|python|nginx|registry ...]   (default: all)
#   SUITE=noble images/build.sh host           (the Ubuntu 24.04 lab host)
#
# An image whose tag already exists is kept when it was built from the same
# recipe (its label pyweb.recipe, bumped below when a recipe changes); FORCE=1
# rebuilds it.
# Environment: SUITE (trixie, or noble for Ubuntu 24.04), MIRROR (the suite's
# archive), PREFIX (pyweb).
set -euo pipefail

SUITE=${SUITE:-trixie}
PREFIX=${PREFIX:-pyweb}
case "$SUITE" in
  noble | jammy)
    # As an Ubuntu server has it: the release with its updates and security
    # pockets (noble alone has Docker 24; noble-updates has a current one).
    MIRROR=${MIRROR:-http://archive.ubuntu.com/ubuntu}
    UBUNTU=1
    MIRRORS=("$MIRROR" "deb $MIRROR $SUITE-updates main universe" "deb $MIRROR $SUITE-security main universe")
    ;;
  *)
    MIRROR=${MIRROR:-http://deb.debian.org/debian}
    UBUNTU=0
    MIRRORS=("$MIRROR")
    ;;
esac
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

# Ubuntu's archive key, from Debian trixie's ubuntu-keyring package (fetched
# and verified by apt in the Debian host image, which is built first).
ubuntu_keyring() {
  UBUNTU_KEYRING="$WORK/ubuntu-archive-keyring.gpg"
  [ -s "$UBUNTU_KEYRING" ] && return
  docker run --rm "$PREFIX/host:trixie" sh -ec \
    'cd /tmp && apt-get download -qq ubuntu-keyring >/dev/null && dpkg-deb --fsys-tarfile ubuntu-keyring_*.deb \
       | tar -xO ./usr/share/keyrings/ubuntu-archive-keyring.gpg' >"$UBUNTU_KEYRING"
  [ -s "$UBUNTU_KEYRING" ] || { echo "images/build.sh: no Ubuntu archive keyring" >&2; exit 1; }
  # apt reads it as its sandbox user (_apt): the work directory is mktemp's 0700.
  chmod 0755 "$WORK" && chmod 0644 "$UBUNTU_KEYRING"
}

# mmdebstrap ROOTFS_TAR INCLUDES [extra mmdebstrap args...]
rootfs() {
  local out=$1 include=$2
  shift 2
  if [ "$UBUNTU" = 1 ]; then
    ubuntu_keyring
    set -- --components=main,universe --keyring="$UBUNTU_KEYRING" "$@"
  fi
  mmdebstrap --quiet --variant=minbase --include="$include" \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    "$@" "$SUITE" "$out" "${MIRRORS[@]}"
}

# A systemd host, as Molecule and the lab use it: a stand-in for a real server,
# reached over SSH as the sudo user `deploy` (its key is put in place when the
# lab starts the container: tests/lab/tasks/host.yml). Every container makes
# its own SSH host keys when sshd first starts (at boot on Debian, on the
# first connection on Ubuntu, whose ssh.socket starts it). The .deb files the
# docker and balancer roles install are downloaded into the apt cache (and the
# package lists kept), so converging needs no network and is quick.
HOST_RECIPE=6  # 2: keepalived; 3: iputils-ping; 4: sshd, deploy user; 5: noble-updates; 6: /proc/sys rw
build_host() {
  local tag="$PREFIX/host:$SUITE" docker_packages="docker.io docker-cli docker-compose"
  [ "$UBUNTU" = 0 ] || docker_packages="docker.io docker-compose-v2"
  have "$tag" "$HOST_RECIPE" && { echo "kept $tag"; return; }
  # shellcheck disable=SC2016  # the hooks' "$1" is mmdebstrap's (the chroot), expanded by it, not here
  rootfs "$WORK/host.tar" apt,systemd,systemd-sysv,dbus,python3,python3-apt,iproute2,ca-certificates,procps,curl,sudo,openssh-server,openssh-sftp-server \
    --skip=cleanup/apt \
    --customize-hook="chroot \"\$1\" apt-get install --download-only -y $docker_packages python3-requests apparmor keepalived iputils-ping" \
    --customize-hook='chroot "$1" systemctl mask systemd-modules-load.service getty@tty1.service' \
    --customize-hook='chroot "$1" useradd --create-home --shell /bin/bash deploy' \
    --customize-hook='echo "deploy ALL=(ALL) NOPASSWD:ALL" >"$1"/etc/sudoers.d/deploy && chmod 0440 "$1"/etc/sudoers.d/deploy' \
    --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
    --customize-hook='mkdir -p "$1"/etc/systemd/system/ssh.service.d && printf "[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n" >"$1"/etc/systemd/system/ssh.service.d/pyweb-host-keys.conf' \
    --customize-hook='printf "%s\n" "[Unit]" "Description=Lab host: /proc/sys writable, as on a server (Docker 28+ sets per-interface sysctls)" \
      "DefaultDependencies=no" "Before=sysinit.target containerd.service docker.service" "[Service]" "Type=oneshot" \
      "ExecStart=/bin/mount -o remount,rw /proc/sys" "[Install]" "WantedBy=sysinit.target" \
      >"$1"/etc/systemd/system/pyweb-proc-sys-rw.service && chroot "$1" systemctl enable pyweb-proc-sys-rw.service' \
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

# The distribution registry, from Debian's docker-registry package: the
# controller's layer registry (image_transfer: layers) and, with TLS and
# basic auth (htpasswd from apache2-utils makes its bcrypt file), the registry
# the tests push to in registry mode (REGISTRY_AUTH* and REGISTRY_HTTP_TLS*
# variables turn them on). Runs as docker-registry, stores in
# /var/lib/registry (where the upstream registry:2 image does), port 5000.
REGISTRY_RECIPE=2  # 2: no auth unless asked (Debian's config turns htpasswd on)
build_registry() {
  local tag="$PREFIX/registry:$SUITE"
  have "$tag" "$REGISTRY_RECIPE" && { echo "kept $tag"; return; }
  # shellcheck disable=SC2016  # "$1" is mmdebstrap's chroot, expanded by it
  rootfs "$WORK/registry.tar" docker-registry,apache2-utils,ca-certificates \
    --customize-hook='chroot "$1" install -d -o docker-registry -g docker-registry -m 0750 /var/lib/registry' \
    --customize-hook='printf "%s\n" "version: 0.1" "log: {fields: {service: registry}}" \
      "storage: {filesystem: {rootdirectory: /var/lib/registry}, delete: {enabled: true}}" \
      "http: {addr: \":5000\", headers: {X-Content-Type-Options: [nosniff]}}" >"$1"/etc/docker/registry/config.yml'
  docker import \
    --change 'USER docker-registry' \
    --change 'ENV REGISTRY_HTTP_ADDR=0.0.0.0:5000 REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=/var/lib/registry' \
    --change 'EXPOSE 5000' \
    --change 'VOLUME /var/lib/registry' \
    --change 'CMD ["/usr/bin/docker-registry", "serve", "/etc/docker/registry/config.yml"]' \
    --change "LABEL pyweb.recipe=$REGISTRY_RECIPE" "$WORK/registry.tar" "$tag" >/dev/null
  echo "built $tag"
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(host python nginx registry)
for t in "${targets[@]}"; do
  case "$t" in
    host) build_host ;;
    python) build_python ;;
    nginx) build_nginx ;;
    registry) build_registry ;;
    *) echo "images/build.sh: unknown image '$t' (host, python, nginx, registry)" >&2; exit 2 ;;
  esac
done
