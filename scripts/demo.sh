#!/usr/bin/env bash
# The local lab: a pair of edge balancers behind a floating address and two
# app hosts, each a container that runs systemd and its own Docker, deployed
# with playbooks/site.yml through inventories/lab, exactly as a user deploys
# to servers.
#   scripts/demo.sh up      (make demo)
#   scripts/demo.sh clean   (make demo-clean)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
INVENTORY=inventories/lab/hosts.yml
URL=http://172.31.251.100  # the balancer pair's floating address (balancer_vip)

case "${1:-up}" in
  up)
    start=$(date +%s)
    ansible-playbook -i "$INVENTORY" tests/lab/create.yml
    ansible-playbook -i "$INVENTORY" playbooks/site.yml
    echo
    echo "pyweb.ha lab is up ($(( $(date +%s) - start )) s): $URL  (floating address of 2 balancers -> 2 app hosts x 2 replicas)"
    holder=""
    for _ in $(seq 1 20); do  # the first election takes a few seconds after keepalived starts
      holder=$(for lb in pyweb-lab-lb pyweb-lab-lb2; do
        if docker exec "$lb" ip -o -4 addr show to "${URL#http://}/32" | grep -q .; then echo "$lb"; fi
      done)
      [ -n "$holder" ] && break
      sleep 1
    done
    echo "The floating address is held by: ${holder:-nobody yet}; the first balancer alone also answers on http://127.0.0.1:8080"
    echo "Six requests through the balancer pair:"
    for _ in 1 2 3 4 5 6; do
      curl -fsS "$URL/" | python3 -c 'import json, sys; print("  {host:18} {replica:6} version {version} ({wsgi})".format(**json.load(sys.stdin)))'
    done
    ssh_dir="$HOME/.cache/pyweb-ha/lab-ssh"  # lab_ssh_dir (inventories/lab/group_vars/all.yml)
    echo "Log in to a lab host as Ansible does (app1 and lb2 run Debian 13, app2 and lb Ubuntu 24.04):"
    echo "     ssh -i $ssh_dir/id_ed25519 -o UserKnownHostsFile=$ssh_dir/known_hosts deploy@172.31.251.11"
    echo "Try: ansible-playbook -i $INVENTORY playbooks/upgrade.yml -e app_version=2.0.0"
    echo "     ansible-playbook -i $INVENTORY playbooks/status.yml"
    ;;
  clean)
    [ -x .venv/bin/ansible-playbook ] || { echo "nothing to clean (no .venv)"; exit 0; }
    ansible-playbook -i "$INVENTORY" tests/lab/destroy.yml
    ;;
  *) echo "usage: $0 up|clean" >&2; exit 2 ;;
esac
