#!/usr/bin/env bash
# Install what `make demo` and `make test` need on a fresh Debian or Ubuntu
# machine (as root): a Docker engine (started in the background when no init
# system runs it), mmdebstrap for the base images, a Python virtualenv with the
# pinned tooling, and this checkout linked as the collection pyweb.ha.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v mmdebstrap >/dev/null 2>&1 || need_apt+=(mmdebstrap)
command -v shellcheck >/dev/null 2>&1 || need_apt+=(shellcheck)  # ansible-test sanity's shellcheck test
command -v ssh-keyscan >/dev/null 2>&1 || need_apt+=(openssh-client)  # the lab is reached over SSH
[ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || need_apt+=(debian-archive-keyring)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  if [ -d /run/systemd/system ]; then
    log "starting docker.service"
    systemctl start docker
  else
    log "starting dockerd in the background (no systemd here), log: /var/log/pyweb-dockerd.log"
    nohup dockerd >/var/log/pyweb-dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/pyweb-dockerd.log" >&2; exit 1; }
fi

# The venv is built once per set of pinned requirements (and Python) in a
# cache outside the checkout, and .venv links to it: a fresh clone (CI's)
# installs nothing again. PYWEB_VENV_CACHE=off keeps a venv of its own in .venv.
venv_ok() { [ -x "$1/bin/ansible-playbook" ] && cmp -s requirements-dev.txt "$1/.requirements"; }
build_venv() {
  log "creating $1 from requirements-dev.txt"
  rm -rf "$1"
  python3 -m venv "$1"
  "$1/bin/pip" install --quiet --upgrade pip
  "$1/bin/pip" install --quiet -r requirements-dev.txt
  cp requirements-dev.txt "$1/.requirements"
}
cache="${PYWEB_VENV_CACHE:-$HOME/.cache/pyweb-ha/venvs}"
if [ "$cache" = off ]; then
  [ -L .venv ] && rm .venv
  venv_ok .venv || build_venv .venv
else
  key=$( (cat requirements-dev.txt; python3 --version) | sha256sum | cut -c1-16)
  target="$cache/$key"
  if ! venv_ok "$target"; then
    # Built in place (a venv cannot move), one checkout at a time.
    mkdir -p "$cache"
    (
      flock 9
      venv_ok "$target" || build_venv "$target"
    ) 9>"$cache/.lock"
  fi
  if [ "$(readlink .venv 2>/dev/null)" != "$target" ]; then
    rm -rf .venv
    ln -s "$target" .venv
  fi
fi

# Collections: Galaxy first (what real users do); where it cannot be reached,
# the pinned `ansible` package in the venv already carries them.
if [ "${PYWEB_GALAXY:-0}" = 1 ]; then
  timeout 60 .venv/bin/ansible-galaxy collection install -r requirements.yml -p .collections \
    || log "Galaxy unreachable: using the collections of the ansible package"
fi
mkdir -p .collections/ansible_collections/pyweb
ln -sfn ../../.. .collections/ansible_collections/pyweb/ha
log "bootstrap done"
