"""Filters that render the Nginx pieces shared by the host proxy (role stack)
and the edge balancer (role balancer): one place for upstream blocks, the
common http-level hardening and the proxy settings of a location."""

from __future__ import annotations

from typing import Any

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
)
HSTS = ("Strict-Transport-Security", "max-age=63072000")


def _server_line(server: dict[str, Any], defaults: dict[str, Any]) -> str:
    address = server["address"]
    if not address:
        raise ValueError("every upstream server needs an address")
    parts = [f"server {address}"]
    if server.get("backup"):
        parts.append("backup")
    parts.append(f"max_fails={server.get('max_fails', defaults['max_fails'])}")
    parts.append(f"fail_timeout={server.get('fail_timeout', defaults['fail_timeout'])}")
    if server.get("down"):
        parts.append("down")
    line = " ".join(parts) + ";"
    comment = server.get("comment")
    return f"{line}  # {comment}" if comment else line


def nginx_upstream(
    servers: list[dict[str, Any]],
    name: str,
    keepalive: int = 0,
    max_fails: int = 0,
    fail_timeout: str = "5s",
    zone_size: str = "64k",
    keepalive_time: str = "",
    keepalive_timeout: str = "",
) -> str:
    """An upstream block with a shared zone (failure state is shared between
    workers), one server line per entry, and optional keepalive (with a bound
    on the life and the idle time of a kept connection, when given)."""
    if not servers:
        raise ValueError(f"upstream {name} needs at least one server")
    defaults = {"max_fails": max_fails, "fail_timeout": fail_timeout}
    lines = [f"upstream {name} {{", f"    zone {name} {zone_size};"]
    lines += [f"    {_server_line(s, defaults)}" for s in servers]
    if keepalive > 0:
        lines.append(f"    keepalive {keepalive};")
        lines += [f"    keepalive_time {keepalive_time};"] if keepalive_time else []
        lines += [f"    keepalive_timeout {keepalive_timeout};"] if keepalive_timeout else []
    lines.append("}")
    return "\n".join(lines)


UNSAFE_SUFFIX = "_unsafe"


def nginx_upstreams(servers: list[dict[str, Any]], name: str, **options: Any) -> str:
    """The upstream `name` (kept-alive connections, for GET, HEAD and
    OPTIONS), and its twin `name_unsafe` without keepalive, for the other
    methods: a POST always goes out on a new connection, so a server that
    died or closed a kept connection fails its connect - which Nginx retries
    elsewhere, since nothing was sent - instead of failing the POST, which
    Nginx never sends twice."""
    plain = {
        k: v for k, v in options.items() if k not in ("keepalive", "keepalive_time", "keepalive_timeout")
    }
    return "\n".join(
        [nginx_upstream(servers, name, **options), nginx_upstream(servers, name + UNSAFE_SUFFIX, **plain)]
    )


def nginx_security_headers(tls: bool = False) -> str:
    """OWASP headers and the request ID, sent on every answer, error pages
    included (`always`); HSTS only when TLS is on. Put them at one level only:
    an add_header in a location drops every add_header of the server."""
    headers = list(SECURITY_HEADERS) + ([HSTS] if tls else [])
    lines = [f'add_header {k} "{v}" always;' for k, v in headers]
    return "\n".join([*lines, "add_header X-Request-ID $pyweb_request_id always;"])


def nginx_common_http(client_max_body_size: str = "1m") -> str:
    """http-level settings both Nginx tiers share: no version leak, request
    IDs kept across tiers, an access log with upstream address and timings,
    temporary files on the tmpfs (the root filesystem is read-only)."""
    return "\n".join(
        [
            "server_tokens off;",
            f"client_max_body_size {client_max_body_size};",
            "# Keep the request ID a front tier set; make one otherwise.",
            "map $http_x_request_id $pyweb_request_id {",
            "    default $http_x_request_id;",
            '    ""      $request_id;',
            "}",
            'log_format pyweb \'$remote_addr - [$time_local] "$request" $status '
            '$body_bytes_sent rid=$pyweb_request_id xff="$http_x_forwarded_for" \'',
            "                 'upstream=$upstream_addr ustatus=$upstream_status "
            "rt=$request_time urt=$upstream_response_time uct=$upstream_connect_time';",
            "access_log /dev/stdout pyweb;",
            "client_body_temp_path /tmp/client_body;",
            "proxy_temp_path /tmp/proxy;",
            "fastcgi_temp_path /tmp/fastcgi;",
            "uwsgi_temp_path /tmp/uwsgi;",
            "scgi_temp_path /tmp/scgi;",
        ]
    )


def nginx_proxy(
    upstream: str,
    connect_timeout: str = "1s",
    read_timeout: str = "30s",
    tries: int = 3,
    next_timeout: str = "10s",
    keepalive: bool = True,
    forwarded_proto: str = "$scheme",
    append_forwarded_for: bool = True,
) -> str:
    """proxy_pass with bounded retries on error, timeout and 502/503/504, a
    short connect timeout, and the forwarded headers."""
    xff = "$proxy_add_x_forwarded_for" if append_forwarded_for else "$remote_addr"
    lines = [
        f"proxy_pass http://{upstream};",
        "proxy_next_upstream error timeout http_502 http_503 http_504;",
        f"proxy_next_upstream_tries {tries};",
        f"proxy_next_upstream_timeout {next_timeout};",
        f"proxy_connect_timeout {connect_timeout};",
        f"proxy_read_timeout {read_timeout};",
        "proxy_set_header Host $host;",
        "proxy_set_header X-Real-IP $remote_addr;",
        f"proxy_set_header X-Forwarded-For {xff};",
        f"proxy_set_header X-Forwarded-Proto {forwarded_proto};",
        "proxy_set_header X-Request-ID $pyweb_request_id;",
    ]
    if keepalive:
        lines += ["proxy_http_version 1.1;", 'proxy_set_header Connection "";']
    return "\n".join(lines)


UNSAFE_LOCATION = "@pyweb_unsafe"


def nginx_proxy_locations(
    upstream: str,
    idempotent_read_timeout: str = "2s",
    read_timeout: str = "30s",
    prelude: list[str] | None = None,
    **proxy: Any,
) -> str:
    """`location /` and its twin for the other methods: a GET, HEAD or
    OPTIONS that gets no answer within idempotent_read_timeout is tried on
    another server (bounded time per try); any other method (a POST) keeps
    the full read_timeout, is never sent twice, and goes to the upstream's
    twin without keepalive (nginx_upstreams). `prelude` lines (e.g.
    limit_req) go into both."""
    first = prelude or []
    safe = nginx_proxy(upstream, read_timeout=idempotent_read_timeout, **proxy)
    unsafe = nginx_proxy(upstream + UNSAFE_SUFFIX, read_timeout=read_timeout, **{**proxy, "keepalive": False})
    lines = ["location / {", *_indent(first)]
    lines += [f"    error_page 418 = {UNSAFE_LOCATION};"]
    lines += ["    if ($request_method !~ ^(GET|HEAD|OPTIONS)$) {", "        return 418;", "    }"]
    lines += [*_indent(safe.splitlines()), "}", f"location {UNSAFE_LOCATION} {{", *_indent(first)]
    lines += [*_indent(unsafe.splitlines()), "}"]
    return "\n".join(lines)


def _indent(lines: list[str]) -> list[str]:
    return [f"    {line}" for line in lines]


NGINX_COMMAND = ["nginx", "-e", "stderr", "-c", "/etc/pyweb-nginx/nginx.conf", "-g", "daemon off;"]
NGINX_HEALTH = (
    "exec 3<>/dev/tcp/127.0.0.1/8080 && "
    "printf 'GET /nginx-health HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ' 200 ' <&3"
)


def nginx_service(
    image: str,
    ports: list[str],
    volumes: list[str],
    networks: dict[str, Any] | None = None,
    mem_limit: str = "128m",
    pids_limit: int = 128,
    stop_grace_period: int = 30,
    network_mode: str = "",
) -> dict[str, Any]:
    """The compose service of an Nginx tier (host proxy or balancer): www-data
    on unprivileged ports, read-only root, no capabilities, graceful stop
    (SIGQUIT), configuration mounted at /etc/pyweb-nginx, a health check of
    Nginx itself."""
    service: dict[str, Any] = {
        "image": image,
        "restart": "unless-stopped",
        "user": "33:33",
        "command": NGINX_COMMAND,
        "stop_signal": "SIGQUIT",
        "stop_grace_period": f"{stop_grace_period}s",
        "read_only": True,
        "tmpfs": ["/tmp:size=64m,mode=1777"],
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "mem_limit": mem_limit,
        "pids_limit": pids_limit,
        "volumes": volumes,
        "ports": ports,
        "healthcheck": {
            "test": ["CMD", "bash", "-c", NGINX_HEALTH],
            "interval": "5s",
            "timeout": "2s",
            "retries": 3,
            "start_period": "10s",
            "start_interval": "1s",
        },
    }
    if networks:
        service["networks"] = networks
    if network_mode:
        # Joins another service's network namespace (which publishes the ports).
        service["network_mode"] = network_mode
        del service["ports"]
    return service


NGINX_CONF = "/etc/pyweb-nginx/nginx.conf"


def _nginx_test(conf: str) -> str:
    return f"nginx -e stderr -t -q -c {conf}"


def nginx_reload_argv(conf: str = NGINX_CONF) -> list[str]:
    """Command that reloads the Nginx of a tier inside its container: the
    configuration (and the certificates it names) is tested first, so a bad
    one fails the task loudly, and the running Nginx keeps serving the old one."""
    return ["bash", "-c", f"{_nginx_test(conf)} && nginx -e stderr -c {conf} -s reload"]


def nginx_check_command(image: str, mounts: list[str] | None = None, conf: str = NGINX_CONF) -> str:
    """The check of a new Nginx configuration of a tier before it reaches the
    disk (pyweb.ha.files, option validate: %s is the new file), in a throwaway
    container of the tier's image with no network, with what it reads beside
    it mounted read-only (mounts: HOST_PATH:CONTAINER_PATH)."""
    volumes = [f"-v %s:{conf}:ro"] + [f"-v {mount}:ro" for mount in mounts or []]
    return " ".join(["docker run --rm --network none", *volumes, image, _nginx_test(conf)])


class FilterModule:
    """pyweb.ha Nginx filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "nginx_upstream": nginx_upstream,
            "nginx_upstreams": nginx_upstreams,
            "nginx_security_headers": nginx_security_headers,
            "nginx_common_http": nginx_common_http,
            "nginx_proxy": nginx_proxy,
            "nginx_proxy_locations": nginx_proxy_locations,
            "nginx_service": nginx_service,
            "nginx_reload_argv": nginx_reload_argv,
            "nginx_check_command": nginx_check_command,
        }
