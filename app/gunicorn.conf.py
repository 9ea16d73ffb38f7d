"""Gunicorn settings of the collection's app image (the pyweb sample service,
or a WSGI app built with the collection's Dockerfile).

The app is ``APP_MODULE`` (``module:callable``, importable from /app/src) on
``APP_PORT``: both set by the image (Dockerfile ENV), APP_PORT by the stack
role for each replica. Tunables come from the environment so one image
serves every host:
``APP_WORKERS`` (default 2), ``APP_THREADS`` (default 4) and
``APP_GRACEFUL_TIMEOUT`` (seconds, default 20). The container's stop grace
period must be longer than ``APP_GRACEFUL_TIMEOUT`` so that SIGTERM lets
in-flight requests finish before Docker sends SIGKILL.

Nothing is written outside /tmp and /dev/shm, so the service runs on a
read-only root filesystem.
"""

from __future__ import annotations

import os


def _env_int(name: str, default: int, minimum: int = 1) -> int:
    """Integer from the environment; ``default`` when unset, empty or invalid."""
    raw = os.environ.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        value = default
    return max(minimum, value)


wsgi_app = os.environ["APP_MODULE"]
pythonpath = "/app/src"
bind = [f"0.0.0.0:{os.environ['APP_PORT']}"]

worker_class = "gthread"
workers = _env_int("APP_WORKERS", 2)
threads = _env_int("APP_THREADS", 4)

# Seconds a silent worker may live before it is killed and replaced.
timeout = 30
# On SIGTERM, workers stop accepting and get this long to finish requests.
graceful_timeout = _env_int("APP_GRACEFUL_TIMEOUT", 20, minimum=0)
# Longer than the reverse proxy's upstream keepalive, so that the proxy,
# not gunicorn, closes idle connections (avoids races on reused sockets).
keepalive = 75

# Worker heartbeat files live in RAM, not on the (read-only) root fs.
worker_tmp_dir = "/dev/shm"
pidfile = None
# gunicorn >= 25.1 opens a control socket for `gunicornc`, by default under
# $HOME; keep it in /tmp (a tmpfs in the container).
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "/tmp/gunicorn.ctl")

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("APP_LOG_LEVEL", "info")
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" xff="%({x-forwarded-for}i)s" %(L)ss'
)
capture_output = False
proc_name = "pyweb"
