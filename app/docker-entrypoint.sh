#!/bin/sh
# Start the app (APP_MODULE, a WSGI entry point module:callable, listening on
# APP_PORT) under the WSGI server named by WSGI_SERVER (gunicorn or uwsgi).
# exec keeps the server as PID 1 so that `docker stop` (SIGTERM) reaches it
# directly and triggers its graceful shutdown.
set -eu

# An empty tunable means "use the default"; drop it so the server configs
# see it as unset.
for var in APP_WORKERS APP_THREADS APP_GRACEFUL_TIMEOUT; do
    eval "val=\${$var:-}"
    if [ -z "$val" ]; then
        unset "$var"
    fi
done

# The image sets these (Dockerfile ENV); both servers' configs read them.
for var in APP_MODULE APP_PORT; do
    eval "val=\${$var:-}"
    if [ -z "$val" ]; then
        echo "docker-entrypoint.sh: $var must not be empty" >&2
        exit 64
    fi
done

case "${WSGI_SERVER:-}" in
    gunicorn)
        exec gunicorn -c /app/gunicorn.conf.py
        ;;
    uwsgi)
        # uWSGI logs to stderr; send it to stdout like gunicorn's access log.
        exec uwsgi --ini /app/uwsgi.ini 2>&1
        ;;
    *)
        echo "docker-entrypoint.sh: WSGI_SERVER must be 'gunicorn' or 'uwsgi', got '${WSGI_SERVER:-}'" >&2
        exit 64
        ;;
esac
