#!/usr/bin/env bash
# ansible-test sanity on this collection, the test every collection on Galaxy
# is held to: run on a copy of the committed tree (HEAD) placed under
# build/sanity/ansible_collections/pyweb/ha, as ansible-test requires.
#   scripts/sanity.sh [ansible-test sanity options, e.g. --test pylint]
# ansible-test downloads a pip bootstrap script from a host that this
# machine cannot reach; a cached one that bootstraps pip from the standard
# library's ensurepip stands in for it.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
cache="$HOME/.ansible/test/cache/get_pip_24_2.py"
if [ ! -s "$cache" ]; then
  mkdir -p "$(dirname "$cache")"
  printf 'import ensurepip\nensurepip.bootstrap(upgrade=True)\n' > "$cache"
fi
tree="$repo/build/sanity/ansible_collections/pyweb/ha"
rm -rf "$tree" && mkdir -p "$tree"
git archive HEAD | tar -x -C "$tree"
cd "$tree"
git init -q && git add -A && git -c user.name=sanity -c user.email=sanity@invalid commit -qm sanity
exec "$repo/.venv/bin/ansible-test" sanity --local --python 3.11 --requirements "$@"
