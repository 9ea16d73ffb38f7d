# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The connection options of pyweb.ha.images and pyweb.ha.image_pull
(plugins/module_utils/docker_api.py), described once."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  docker_host:
    description:
      - The daemon's address.
      - When not given, the environment variable C(DOCKER_HOST) of the module's process, else
        C(unix:///var/run/docker.sock).
    type: str
  tls:
    description:
      - Talk TLS to a C(tcp://) host; verifies the daemon's certificate with C(ca.pem) and presents
        C(cert.pem) and C(key.pem) of O(cert_path).
      - When not given, true when the environment variable C(DOCKER_TLS_VERIFY) is set and not empty.
    type: bool
  cert_path:
    description:
      - Directory of C(ca.pem), C(cert.pem) and C(key.pem) for O(tls).
      - When not given, the environment variable C(DOCKER_CERT_PATH), else C(~/.docker).
    type: path
  timeout:
    description: Seconds to wait for each answer of the daemon.
    type: int
    default: 60
notes:
  - Reaches the daemon over a Unix socket (the default, and C(unix://) hosts) or over TCP
    (C(tcp://), with TLS when O(tls) is true). An C(ssh://) host is not supported.
"""
