"""Unit tests of the pure parts of the benchmark scripts (scripts/bench_*.py).

Nothing here starts a container, a playbook or load: the helpers that do are
exercised by running the scripts against the lab (docs/benchmarks.md).
"""

from __future__ import annotations

import http.server
import importlib
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.lib.loadgen import Config, RequestRecord, summarize

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))  # the scripts import bench_common as a sibling module

bc = importlib.import_module("bench_common")
bb = importlib.import_module("bench_balancer")
br = importlib.import_module("bench_rollout")


def stamp(previous: str, total: str) -> str:
    return f"Sunday 29 November 2026  02:30:22 +0000 ({previous})       {total} ******* "


def task(name: str, total: str, previous: str = "0:00:00.100", kind: str = "TASK") -> str:
    return f"{kind} [{name}] ***************************\n{stamp(previous, total)}\nok: [pyweb-lab-app1]\n"


def host_batch(host: str, start: float) -> str:
    """One serial batch of the rollout play: host drain, two swaps, host back."""

    def clock(offset: float) -> str:
        seconds = start + offset
        return f"0:{int(seconds // 60):02d}:{seconds % 60:06.3f}"

    lines = [
        "PLAY [Replace the replicas, one host at a time] ********************************\n",
        task("pyweb.ha.rollout : Choose the target version", clock(0.0)),
        task("pyweb.ha.rollout : Mark the host in the upstream of the balancer", clock(1.0)),
    ]
    for swap, offset in ((1, 3.0), (2, 13.0)):
        lines += [
            task("Drain the replica in the host Nginx", clock(offset)),
            f"included: pyweb.ha.stack for {host}\n",
            task("pyweb.ha.stack : Render the compose project", clock(offset + 0.5)),
            task("pyweb.ha.stack : Reload host nginx", clock(offset + 1.0), kind="RUNNING HANDLER"),
            task("pyweb.ha.stack : Start the compose project", clock(offset + 1.5)),
            task(f"Put the replica app_{swap} back into the host Nginx", clock(offset + 8.0)),
            task("pyweb.ha.rollout : Remember that the replica moved", clock(offset + 8.0 + swap)),
        ]
    lines.append(task("pyweb.ha.rollout : Record the release", clock(24.0)))
    return "".join(lines)


UPGRADE_OUTPUT = (
    "\nPLAY [Check the request] *******************************************************\n\n"
    + task("Fail without a version", "0:00:00.036", "0:00:00.035")
    + "\nPLAY [Build and ship the new image to every app host before any replica is touched] ***\n\n"
    + task("pyweb.ha.image : Build the app image pyweb/app:2.0.0", "0:00:04.000")
    + host_batch("pyweb-lab-app1", 20.0)
    + host_batch("pyweb-lab-app2", 45.0)
    + "\nPLAY RECAP *********************************************************************\n"
    + "pyweb-lab-app1             : ok=34   changed=9    unreachable=0    failed=0    skipped=2\n"
    + "pyweb-lab-app2             : ok=34   changed=9    unreachable=0    failed=0    skipped=2\n\n"
    + "TASKS RECAP ********************************************************************\n"
    + stamp("0:00:01.000", "0:01:10.000")
    + "\n===============================================================================\n"
    + "pyweb.ha.stack : Start the compose project -- 6.50s\n"
)

SUMMARY = {
    "total": 1000,
    "ok": 997,
    "non_2xx": 2,
    "transport_errors": 1,
    "failed": 3,
    "by_status": {"0": 1, "200": 997, "502": 2},
    "by_method": {"GET": {"total": 750, "ok": 748, "failed": 2}},
    "latency_ms": {"p50": 4.5, "p90": 9.0, "p99": 20.25, "max": 310.0},
    "duration_s": 10.0,
    "requests_per_second": 100.0,
    "max_gap_s": 0.75,
    "backends": [],
    "versions": {"1.0.0": 600, "2.0.0": 397},
    "first_failures": [],
    "stop_reason": "duration",
    "clients_unfinished": 0,
    "notes": [],
}


def cells(line: str) -> list[str]:
    """The cells of a Markdown table line, stripped."""
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def result(rps: float, p50: float, p99: float, total: int = 100, failed: int = 0) -> object:
    return bc.LoadResult(
        total=total,
        ok=total - failed,
        failed=failed,
        non_2xx=failed,
        transport_errors=0,
        requests_per_second=rps,
        p50_ms=p50,
        p90_ms=p99 / 2,
        p99_ms=p99,
        max_ms=p99 * 2,
        max_gap_s=0.1,
        duration_s=10.0,
    )


# --------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------


def test_markdown_table_pads_aligns_and_formats():
    text = bc.markdown_table(
        ["Target", "req/s", "p99 ms"], [["balancer", 1234.5, None], ["direct", 98.76, 3]]
    )
    assert text.splitlines() == [
        "| Target   |   req/s | p99 ms |",
        "| -------- | ------: | -----: |",
        "| balancer | 1,234.5 |      - |",
        "| direct   |    98.8 |      3 |",
    ]


def test_markdown_table_escapes_pipes_and_honours_align():
    text = bc.markdown_table(["a|b", "c"], [["x|y", "z"]], align="ll")
    lines = text.splitlines()
    assert lines[0] == "| a\\|b | c   |"
    assert lines[1] == "| ---- | --- |"
    assert lines[2] == "| x\\|y | z   |"


def test_markdown_table_rejects_bad_rows_and_align():
    with pytest.raises(ValueError, match="2 cells"):
        bc.markdown_table(["a", "b"], [["only one"]])
    with pytest.raises(ValueError, match="align"):
        bc.markdown_table(["a", "b"], [], align="lc")


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [(None, 1, "-"), (True, 1, "yes"), (1.0, 2, "1.00"), (12345, 1, "12,345"), ("a\nb", 1, "a b")],
)
def test_fmt(value, digits, text):
    assert bc.fmt(value, digits) == text


def test_fmt_ratio():
    assert bc.fmt_ratio(0.6149) == "0.61x"
    assert bc.fmt_ratio(None) == "-"


# --------------------------------------------------------------------------
# Ratios and aggregation
# --------------------------------------------------------------------------


def test_ratio_and_median():
    assert bc.ratio(50.0, 200.0) == 0.25
    assert bc.ratio(1.0, 0.0) is None
    assert bc.median([3.0, 1.0, 2.0]) == 2.0
    assert bc.median([1.0, 2.0]) == 1.5
    assert bc.median([]) == 0.0


def test_aggregate_takes_medians_and_sums():
    stats = bc.aggregate(
        [result(100.0, 5.0, 50.0, failed=1), result(300.0, 1.0, 10.0), result(200.0, 2.0, 20.0)]
    )
    assert stats == {
        "runs": 3,
        "total": 300,
        "failed": 1,
        "requests_per_second": 200.0,
        "p50_ms": 2.0,
        "p99_ms": 20.0,
        "max_ms": 100.0,
    }


def test_compare_divides_subject_by_reference():
    subject = {"requests_per_second": 500.0, "p50_ms": 6.0, "p99_ms": 30.0}
    reference = {"requests_per_second": 1000.0, "p50_ms": 2.0, "p99_ms": 0.0}
    assert bc.compare(subject, reference) == {"requests_per_second": 0.5, "p50_ms": 3.0, "p99_ms": None}


def test_clamp():
    assert bc.clamp(100, 1, 64) == 64
    assert bc.clamp(-1, 0.0, 1.0) == 0.0
    assert bc.clamp(0.5, 0.0, 1.0) == 0.5


# --------------------------------------------------------------------------
# Load generator JSON
# --------------------------------------------------------------------------


def test_parse_loadgen_out_document():
    document = {"config": {"url": "http://x/"}, "summary": SUMMARY, "failures": []}
    parsed = bc.parse_loadgen_json(json.dumps(document))
    assert parsed.total == 1000
    assert parsed.failed == 3
    assert (parsed.non_2xx, parsed.transport_errors) == (2, 1)
    assert parsed.requests_per_second == 100.0
    assert (parsed.p50_ms, parsed.p90_ms, parsed.p99_ms, parsed.max_ms) == (4.5, 9.0, 20.25, 310.0)
    assert parsed.max_gap_s == 0.75
    assert parsed.duration_s == 10.0
    assert parsed.versions == {"1.0.0": 600, "2.0.0": 397}


def test_parse_loadgen_bare_summary_as_molecule_writes_it():
    assert bc.parse_loadgen_json(json.dumps(SUMMARY)) == bc.parse_loadgen_json(
        json.dumps({"summary": SUMMARY})
    )


def test_parse_loadgen_matches_the_real_summary_keys():
    records = [
        RequestRecord(0, 0, "GET", "/", 0.0, 0.010, 200, version="1.0.0"),
        RequestRecord(1, 0, "GET", "/", 0.5, 0.030, 502, message="Bad Gateway"),
        RequestRecord(2, 1, "POST", "/echo", 1.0, 0.020, 0, error="ConnectionRefusedError"),
        RequestRecord(3, 1, "GET", "/", 1.5, 0.040, 200, version="2.0.0"),
    ]
    document = {"config": Config(url="http://x/").to_dict(), "summary": summarize(records, 2.0).to_dict()}
    parsed = bc.parse_loadgen_json(json.dumps(document))
    assert (parsed.total, parsed.ok, parsed.failed) == (4, 2, 2)
    assert (parsed.non_2xx, parsed.transport_errors) == (1, 1)
    assert parsed.requests_per_second == 2.0
    assert parsed.max_ms == 40.0
    assert parsed.max_gap_s == pytest.approx(1.53)
    assert parsed.versions == {"1.0.0": 1, "2.0.0": 1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"summary": 3}', "not a JSON object"),
        ('{"summary": {"total": 1}}', "missing"),
    ],
)
def test_parse_loadgen_rejects_other_documents(text, message):
    with pytest.raises(ValueError, match=message):
        bc.parse_loadgen_json(text)


def test_results_table_names_molecule_results(tmp_path):
    path = tmp_path / "molecule" / "cluster" / "tests" / "results" / "failover.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(SUMMARY))
    bad = tmp_path / "broken.json"
    bad.write_text("{}")
    lines = bc.results_table([path, bad]).splitlines()
    assert len(lines) == 3
    assert lines[2].startswith("| cluster/failover ")
    assert cells(lines[2])[7] == "0.750"


# --------------------------------------------------------------------------
# profile_tasks output
# --------------------------------------------------------------------------


def test_parse_clock():
    assert bc.parse_clock("0:00:00.036") == pytest.approx(0.036)
    assert bc.parse_clock("1:02:03.500") == pytest.approx(3723.5)


def test_parse_profile_timeline_reads_tasks_handlers_plays_and_recap():
    events = bc.parse_profile_timeline(UPGRADE_OUTPUT)
    assert events[0] == bc.TaskEvent("task", "Fail without a version", "Check the request", 0.036)
    assert events[-1].kind == "recap"
    assert events[-1].start_s == 70.0
    handlers = [e for e in events if e.kind == "handler"]
    assert len(handlers) == 4
    assert handlers[0].short_name == "Reload host nginx"
    assert {e.play for e in events if "Drain" in e.name} == {bc.ROLLOUT_PLAY}


def test_parse_profile_timeline_ignores_output_without_profile_tasks():
    assert bc.parse_profile_timeline("PLAY [x] ***\n\nTASK [y] ***\nok: [h]\n") == []


def test_play_seconds_adds_up_serial_batches():
    events = bc.parse_profile_timeline(UPGRADE_OUTPUT)
    assert bc.play_seconds(events, bc.ROLLOUT_PLAY) == pytest.approx(50.0)
    assert bc.play_seconds(
        events, "Build and ship the new image to every app host before any replica is touched"
    ) == (pytest.approx(16.0))
    assert bc.play_seconds(events, "No such play") is None


def test_play_seconds_is_unknown_without_an_end():
    events = bc.parse_profile_timeline(UPGRADE_OUTPUT.split("PLAY RECAP")[0])
    assert bc.play_seconds(events, bc.ROLLOUT_PLAY) is None


def test_span_seconds_pairs_drain_with_remember():
    events = bc.parse_profile_timeline(UPGRADE_OUTPUT)
    assert bc.span_seconds(events) == [9.0, 10.0, 9.0, 10.0]


def test_span_seconds_drops_a_start_without_end():
    events = [
        bc.TaskEvent("task", "Drain the replica in the host Nginx", "p", 1.0),
        bc.TaskEvent("task", "Drain the replica in the host Nginx", "p", 5.0),
        bc.TaskEvent("task", "pyweb.ha.rollout : Remember that the replica moved", "p", 7.5),
        bc.TaskEvent("task", "pyweb.ha.rollout : Remember that the replica moved", "p", 9.0),
    ]
    assert bc.span_seconds(events) == [2.5]


def test_swap_report_from_profile_tasks():
    report = bc.swap_report(UPGRADE_OUTPUT, fallback_replicas=4)
    assert report["playbook_failed"] is False
    assert report["swaps"] == 4
    assert report["swap_mean_s"] == pytest.approx(9.5)
    assert (report["swap_min_s"], report["swap_max_s"]) == (9.0, 10.0)
    assert report["rollout_play_s"] == pytest.approx(50.0)
    assert report["rollout_play_per_replica_s"] == pytest.approx(12.5)
    assert str(report["method"]).startswith("profile_tasks timestamps")
    assert report["plays_s"] == {
        "Check the request": pytest.approx(3.964),
        "Build and ship the new image to every app host before any replica is touched": pytest.approx(16.0),
        bc.ROLLOUT_PLAY: pytest.approx(50.0),
    }


def test_swap_report_falls_back_to_play_duration_per_replica():
    without_swaps = UPGRADE_OUTPUT.replace("Remember that the replica moved", "Something else")
    report = bc.swap_report(without_swaps, fallback_replicas=4)
    assert report["swaps"] == 0
    assert report["replicas"] == 4
    assert report["rollout_play_per_replica_s"] == pytest.approx(12.5)
    assert "play duration" in str(report["method"])


def test_swap_report_without_timeline():
    report = bc.swap_report("PLAY RECAP ***\nh : ok=1 changed=0 unreachable=0 failed=1 skipped=0\n", 4)
    assert report["playbook_failed"] is True
    assert report["rollout_play_per_replica_s"] is None
    assert str(report["method"]).startswith("unavailable")


def test_recap_failed():
    assert bc.recap_failed(UPGRADE_OUTPUT) is False
    assert bc.recap_failed("nothing") is None


# --------------------------------------------------------------------------
# Commands and machine
# --------------------------------------------------------------------------


def test_playbook_argv_passes_extra_vars_as_json():
    argv = bc.playbook_argv("playbooks/site.yml", {"stack_nginx_keepalive": 0, "balancer_keepalive": 0})
    assert argv[0].endswith("ansible-playbook")
    assert argv[1:4] == ["-i", "inventories/lab/hosts.yml", "playbooks/site.yml"]
    assert argv[4] == "-e"
    assert json.loads(argv[5]) == {"balancer_keepalive": 0, "stack_nginx_keepalive": 0}
    assert bc.playbook_argv("playbooks/site.yml")[4:] == []


def test_ansible_env():
    env = bc.ansible_env({"PATH": "/usr/bin"})
    assert env["PATH"].startswith(str(bc.VENV_BIN))
    assert env["PATH"].endswith("/usr/bin")
    assert env["ANSIBLE_CONFIG"].endswith("ansible.cfg")
    assert env["ANSIBLE_NOCOLOR"] == "1"


def test_command_result_check_and_describe():
    failed = bc.CommandResult(["false"], 1, "out\n", "err\n", 0.5)
    with pytest.raises(bc.CommandError, match="exited 1"):
        failed.check()
    assert bc.CommandResult(["true"], 0, "", "", 0.1).check().ok
    assert bc.describe(["x" * 200], limit=20).endswith("...")
    assert bc.tail("a\nb\nc\n", 2) == "b\nc"


def test_run_command_sends_stdin_and_times():
    result = bc.run_command(
        [sys.executable, "-c", "import sys; print(sys.stdin.read().upper())"], timeout=30, stdin="x"
    )
    assert result.ok
    assert result.stdout == "X\n"
    assert result.seconds > 0


def test_run_command_errors():
    with pytest.raises(bc.CommandError, match="timed out"):
        bc.run_command([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.2)
    with pytest.raises(bc.CommandError, match="cannot run"):
        bc.run_command(["/nonexistent/bench-command"], timeout=5)


def test_run_command_writes_the_log(tmp_path):
    log = tmp_path / "logs" / "x.log"
    bc.run_command([sys.executable, "-c", "print('hello')"], timeout=30, log=log)
    assert log.read_text().splitlines()[1] == "hello"


def test_parse_meminfo():
    assert bc.parse_meminfo("MemTotal:       25165824 kB\nMemFree: 1 kB\n") == 24.0
    assert bc.parse_meminfo("") is None


# --------------------------------------------------------------------------
# bench_balancer
# --------------------------------------------------------------------------


def test_bounded_spec_applies_caps():
    spec = bb.bounded_spec(clients=500, duration=9999, post_ratio=2.0, timeout=0.0)
    assert (spec.clients, spec.duration, spec.post_ratio, spec.timeout) == (64, 120.0, 1.0, 0.5)
    assert bb.bounded_spec(16, 20, 0, 5) == bb.LoadSpec(16, 20.0, 0.0, 5.0)


def test_container_argv_runs_loadgen_in_the_replica_network():
    direct = next(t for t in bb.default_targets() if t.name == "direct")
    argv = bb.container_argv("pyweb-lab-app1", "pyweb/app:1.0.0", direct, bb.LoadSpec(16, 20.0, 0.0, 5.0))
    assert argv[:6] == ["docker", "exec", "pyweb-lab-app1", "docker", "run", "--rm"]
    assert argv[argv.index("--network") + 1] == "container:pyweb-app_1-1"
    assert argv[argv.index("-v") + 1] == "/tmp/loadgen.py:/loadgen.py:ro"
    assert argv[-3:-1] == ["pyweb/app:1.0.0", "-c"]
    script = argv[-1]
    assert script.startswith("python3 /loadgen.py --url http://127.0.0.1:8000/ --clients 16 --duration 20 ")
    assert script.endswith(">&2 && cat /tmp/loadgen.json")


def test_balancer_target_uses_the_host_network():
    balancer = next(t for t in bb.default_targets() if t.name == "balancer")
    assert (balancer.network, balancer.url) == ("host", "http://172.31.251.10:80/")


def test_run_order_alternates():
    assert bb.run_order(3, ["balancer", "direct"]) == [
        (1, "balancer"),
        (1, "direct"),
        (2, "direct"),
        (2, "balancer"),
        (3, "balancer"),
        (3, "direct"),
    ]


def test_parse_default_and_role_defaults():
    assert bb.parse_default("a: 1\nbalancer_keepalive: 32\n# x: 2\n", "balancer_keepalive") == "32"
    assert bb.parse_default("  nested_keepalive: 3\n", "nested_keepalive") is None
    assert bb.role_default("balancer", "balancer_keepalive") is not None
    assert bb.role_default("stack", "stack_nginx_keepalive") is not None


def test_count_upstream_keepalive_ignores_keepalive_timeout():
    conf = "keepalive_timeout 65s;\nupstream a {\n    server x;\n    keepalive 32;\n}\n"
    assert bb.count_upstream_keepalive(conf) == 1
    assert bb.count_upstream_keepalive(conf.replace("    keepalive 32;\n", "")) == 0


def test_balancer_report_has_ratio_row_and_keepalive_table():
    outcome = bb.Outcome(
        image="pyweb/app:1.0.0",
        results={"balancer": [result(500.0, 8.0, 40.0)], "direct": [result(1000.0, 4.0, 10.0)]},
        keepalive_off=[result(400.0, 10.0, 50.0)],
    )
    text = bb.report(bb.LoadSpec(16, 20.0, 0.0, 5.0), 1, outcome, bb.default_targets())
    ratio_line = next(line for line in text.splitlines() if line.startswith("| balancer / direct"))
    assert cells(ratio_line)[-3:] == ["0.50x", "2.00x", "4.00x"]
    off_line = next(line for line in text.splitlines() if line.startswith("| off / on"))
    assert cells(off_line)[-3:] == ["0.80x", "1.25x", "1.25x"]
    document = bb.to_document(bb.LoadSpec(16, 20.0, 0.0, 5.0), 1, 3.0, bb.default_targets(), outcome)
    assert document["ratio_balancer_to_direct"]["requests_per_second"] == 0.5
    assert document["keepalive"]["ratio_off_to_on"]["p99_ms"] == 1.25
    json.dumps(document)


# --------------------------------------------------------------------------
# bench_rollout
# --------------------------------------------------------------------------


def test_sed_escaping():
    assert br.sed_pattern("pyweb/app:2.0.0") == "pyweb/app:2\\.0\\.0"
    assert br.sed_pattern("a#b[c]*^$\\") == "a\\#b\\[c\\]\\*\\^\\$\\\\"
    assert br.sed_replacement("a&b#c") == "a\\&b\\#c"


def test_naive_command():
    assert br.naive_command("pyweb/app", "2.0.0", "1.0.0") == (
        "cd /opt/pyweb && sed -i 's#pyweb/app:2\\.0\\.0$#pyweb/app:1.0.0#' compose.yml"
        " && flock .lock docker compose up -d"
    )


@pytest.mark.skipif(shutil.which("sed") is None, reason="needs sed")
def test_naive_sed_expression_edits_only_the_exact_tag(tmp_path):
    compose = tmp_path / "compose.yml"
    compose.write_text(
        "    image: pyweb/app:2.0.0\n    image: pyweb/app:2.0.0\n    image: pyweb/app:2x0x0\n"
        "    image: pyweb/app:2.0.01\n    image: pyweb/nginx:trixie\n"
    )
    command = br.naive_command("pyweb/app", "2.0.0", "1.0.0", project_dir=str(tmp_path))
    edit = command.split(" && ")[1]
    subprocess.run(["sh", "-c", f"cd {tmp_path} && {edit}"], check=True)
    assert compose.read_text().splitlines() == [
        "    image: pyweb/app:1.0.0",
        "    image: pyweb/app:1.0.0",
        "    image: pyweb/app:2x0x0",
        "    image: pyweb/app:2.0.01",
        "    image: pyweb/nginx:trixie",
    ]


def test_parse_release():
    assert br.parse_release('{"version": "2.0.0", "previous": "1.0.0"}') == "2.0.0"
    assert br.parse_release('{"version": null}') is None
    assert br.parse_release("[]") is None
    assert br.parse_release("cat: no such file") is None


PS_OUTPUT = (
    "app_1\trunning\thealthy\tpyweb/app:1.0.0\n"
    "app_2\trunning\tstarting\tpyweb/app:1.0.0\n"
    "nginx\trunning\thealthy\tpyweb/nginx:trixie\n"
    "garbage line\n"
)


def test_parse_compose_ps_and_replicas_ready():
    states = br.parse_compose_ps(PS_OUTPUT)
    assert [s.service for s in states] == ["app_1", "app_2", "nginx"]
    assert states[1] == br.ServiceState("app_2", "running", "starting", "pyweb/app:1.0.0")
    assert not br.replicas_ready(states, "pyweb/app:1.0.0", 2)
    healthy = br.parse_compose_ps(PS_OUTPUT.replace("starting", "healthy"))
    assert br.replicas_ready(healthy, "pyweb/app:1.0.0", 2)
    assert not br.replicas_ready(healthy, "pyweb/app:2.0.0", 2)
    assert not br.replicas_ready(healthy[:1], "pyweb/app:1.0.0", 2)


COMPOSE_YML = """name: pyweb
x-replica: &replica
  restart: unless-stopped
services:
  app_1_b:
    <<: *replica
    image: pyweb/app:2.0.0
  app_2_a:
    <<: *replica
    image: pyweb/app:2.0.0
  net:
    image: pyweb/nginx:trixie
  nginx:
    image: pyweb/nginx:trixie
networks:
  backend:
    internal: true
"""


def test_replicas_ready_counts_only_the_slots_compose_yml_lists():
    services = br.compose_app_services(COMPOSE_YML)
    assert services == ["app_1_b", "app_2_a"]
    ps = (
        "app_1_b\trunning\thealthy\tpyweb/app:1.0.0\n"
        "app_2_a\trunning\thealthy\tpyweb/app:1.0.0\n"
        "app_1_a\texited\t\tpyweb/app:2.0.0\n"  # a leftover container of another slot
        "nginx\trunning\thealthy\tpyweb/nginx:trixie\n"
    )
    states = br.parse_compose_ps(ps)
    assert not br.replicas_ready(states, "pyweb/app:1.0.0", 2)
    assert br.replicas_ready(states, "pyweb/app:1.0.0", 2, services)
    assert not br.replicas_ready(states[1:], "pyweb/app:1.0.0", 2, services)


# -- deploy summary ----------------------------------------------------------

# As the default callback prints it with callback_result_format = yaml (made
# with ansible-core's own dumper): long items wrap onto a continuation line.
SUMMARY_TASK = (
    "TASK [pyweb.ha.rollout : Deploy summary] ***************************************\n"
    + stamp("0:00:00.040", "0:00:52.120")
    + "\nok: [pyweb-lab-app1] => \n"
    "    changed: false\n"
    "    msg:\n"
    "    - 'pyweb-lab-app1: 1.0.0 -> 2.0.0, ok, 2 swap(s) in 8.7 s: app_1 app_1_a->app_1_b\n"
    "        3.0s, app_2 app_2_a->app_2_b 3.2s'\n"
    "    - 'pyweb-lab-app2: 1.0.0 -> 2.0.0, FAILED at app_2, undone, 1 swap(s) in 9.1 s: app_1\n"
    "        app_1_b->app_1_a 3.6s'\n"
    "    - 'pyweb-lab-app3: not rolled (not reached, or stopped before it)'\n"
    "    - 'swaps: 3, median 3.2 s, max 3.6 s'\n"
    "    - 'total: 52.1 s'\n"
    "\n"
)
ROLLOUT_OUTPUT = (
    "PLAY [Replace the replicas, rollout_batch hosts at a time] *********************\n\n"
    + task("pyweb.ha.rollout : Plan the rollout of this host", "0:00:20.000")
    + "\nTASK [pyweb.ha.rollout : Say that this host already runs the target version] ***\n"
    + stamp("0:00:00.010", "0:00:21.000")
    + "\nok: [pyweb-lab-app1] => \n    msg:\n    - 'not: -> the summary'\n\n"
    + "PLAY [Deploy summary] **********************************************************\n\n"
    + SUMMARY_TASK
    + "PLAY RECAP *********************************************************************\n"
    + "pyweb-lab-app1             : ok=34   changed=9    unreachable=0    failed=0    skipped=2\n"
)


def test_parse_deploy_summary_joins_wrapped_lines():
    summary = br.parse_deploy_summary(ROLLOUT_OUTPUT)
    assert summary is not None
    first, second = summary.hosts
    assert (first.host, first.from_version, first.to_version, first.outcome) == (
        "pyweb-lab-app1",
        "1.0.0",
        "2.0.0",
        "ok",
    )
    assert first.seconds == 8.7
    assert first.swaps == (
        br.Swap("app_1", "app_1_a", "app_1_b", 3.0),
        br.Swap("app_2", "app_2_a", "app_2_b", 3.2),
    )
    assert second.outcome == "FAILED at app_2, undone"
    assert second.swaps == (br.Swap("app_1", "app_1_b", "app_1_a", 3.6),)
    assert summary.not_rolled == ("pyweb-lab-app3",)
    assert (summary.swaps, summary.median_s, summary.max_s, summary.total_s) == (3, 3.2, 3.6, 52.1)
    assert summary.swap_seconds() == [3.0, 3.2, 3.6]
    assert (summary.swap_median(), summary.swap_max(), summary.swap_count()) == (3.2, 3.6, 3)
    json.dumps(summary.to_dict())


def test_parse_deploy_summary_computes_the_swap_figures_without_the_swaps_line():
    output = ROLLOUT_OUTPUT.replace("    - 'swaps: 3, median 3.2 s, max 3.6 s'\n", "")
    summary = br.parse_deploy_summary(output)
    assert summary.swaps is None
    assert summary.swap_median() == pytest.approx(3.2)
    assert summary.swap_max() == 3.6
    assert summary.swap_count() == 3


def test_parse_deploy_summary_double_quoted_and_other_callbacks():
    double = (
        "TASK [pyweb.ha.rollout : Deploy summary] ***\n"
        "ok: [h1] => \n"
        "    msg:\n"
        '    - "h1: 1.0.0 -> 2.0.0, ok, 1 swap(s) in 4.0 s: app_1 app_1_a->app_1_b\\\n'
        '      \\ 3.9s"\n'
        '    - "swaps: 1, median 3.9 s, max 3.9 s"\n'
    )
    summary = br.parse_deploy_summary(double)
    assert summary.hosts[0].swaps == (br.Swap("app_1", "app_1_a", "app_1_b", 3.9),)
    assert summary.total_s is None
    as_json = (
        'ok: [h1] => {\n    "msg": [\n'
        '        "h1: 1.0.0 -> 2.0.0, ok, 0 swap(s) in 0.4 s: none needed",\n'
        '        "total: 12.0 s"\n    ]\n}\n'
    )
    summary = br.parse_deploy_summary(as_json)
    assert summary.hosts[0].swaps == ()
    assert summary.total_s == 12.0
    assert summary.swap_median() is None
    assert br.parse_deploy_summary("PLAY RECAP ***\nnothing here\n") is None


@pytest.mark.parametrize(
    ("pieces", "text"),
    [
        (["'a: b", "c'"], "a: b c"),
        (["'it''s'"], "it's"),
        (['"a\\', '\\ b\\"c"'], 'a b"c'),
        (['"a', 'b"'], "a b"),
        (["plain", "text"], "plain text"),
    ],
)
def test_yaml_scalar(pieces, text):
    assert br.yaml_scalar(pieces) == text


# -- replicas serving per second ----------------------------------------------


def record(index, end, *, host="h1", replica="app_1", status=200, method="GET", version="1.0.0"):
    return RequestRecord(
        index, 0, method, "/", end - 0.01, 0.01, status, host=host, replica=replica, version=version
    )


SERVING_RECORDS = [
    # second 0: all four replicas
    record(0, 0.1, host="h1", replica="app_1"),
    record(1, 0.2, host="h1", replica="app_2"),
    record(2, 0.3, host="h2", replica="app_1"),
    record(3, 0.4, host="h2", replica="app_2"),
    # second 1: h1 only, plus a failure on h2 and a POST (no host in its answer)
    record(4, 1.1, host="h1", replica="app_1"),
    record(5, 1.2, host="h1", replica="app_2"),
    record(6, 1.3, host="h1", replica="app_1"),
    record(7, 1.4, host="h2", replica="app_1", status=502),
    record(8, 1.5, host=None, replica="app_2", method="POST"),
    # second 2: nobody; second 3: one replica
    record(9, 3.5, host="h2", replica="app_2", version="2.0.0"),
]


def test_serving_per_second_counts_distinct_host_replica_pairs():
    assert br.serving_per_second(SERVING_RECORDS) == [4, 2, 0, 1]
    assert br.serving_per_second([]) == []


def test_min_during_the_step_uses_whole_seconds():
    serving = [4, 2, 0, 1, 4]
    assert list(br.step_seconds(0.5, 3.2)) == [1, 2]
    assert br.min_during(serving, 0.5, 3.2) == 0
    assert br.min_during(serving, 2.5, 3.2) == 0  # no whole second: the seconds it touches
    assert list(br.step_seconds(3.1, 3.2)) == [3]
    assert br.min_during(serving, 3.1, 3.2) == 1
    assert br.min_during(serving, 9.0, 12.0) is None


def test_load_figures_from_records_and_the_real_summary():
    summary = summarize(SERVING_RECORDS, 4.0).to_dict()
    figures = br.load_figures(summary, SERVING_RECORDS, (0.5, 3.2))
    assert figures.result.total == 10
    assert figures.failed_by_method == {"GET": 1, "POST": 0}
    assert figures.failed_by_mode == {"keepalive": 0, "new": 1}
    assert (figures.replicas_min, figures.replicas_max) == (0, 4)
    assert figures.serving == [4, 2, 0, 1]
    assert [e["second"] for e in figures.timeline] == [0, 1, 2, 3]
    json.dumps(figures.to_dict())


# -- chart ----------------------------------------------------------------------

TIMELINE = [
    {"second": 0, "ok": 100, "failed": 0, "p99_ms": 12.0, "versions": {"1.0.0": 100}},
    {"second": 1, "ok": 90, "failed": 0, "p99_ms": 15.0, "versions": {"1.0.0": 60, "2.0.0": 30}},
    {"second": 2, "ok": 40, "failed": 30, "p99_ms": 900.0, "versions": {"2.0.0": 35}},
    {"second": 3, "ok": 0, "failed": 0, "p99_ms": 0.0, "versions": {}},
]


def test_answer_stacks_by_version_other_and_failed():
    panel = br.ChartPanel("x", TIMELINE, (0.5, 2.5))
    assert br.chart_versions([panel]) == ["1.0.0", "2.0.0"]
    assert br.answer_stacks(panel, ["1.0.0", "2.0.0"]) == {
        "1.0.0": [100, 60, 0, 0],
        "2.0.0": [0, 30, 35, 0],
        "other": [0, 0, 5, 0],
        "failed": [0, 0, 30, 0],
    }


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_write_chart_draws_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    panels = [
        br.ChartPanel("Rolling, 1.0.0 -> 2.0.0\n230 requests, 0 failed", TIMELINE[:2], (0.5, 1.5)),
        br.ChartPanel("Naive, 2.0.0 -> 1.0.0\n300 requests, 30 failed", TIMELINE, (1.0, 2.5)),
    ]
    path = br.write_chart(tmp_path / "docs" / "chart.png", panels)
    assert path == tmp_path / "docs" / "chart.png"
    assert png_size(path) == (1400, 800)


def test_write_chart_without_matplotlib(tmp_path, monkeypatch):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # their import fails
    assert br.write_chart(tmp_path / "chart.png", [br.ChartPanel("x", TIMELINE)]) is None
    assert not (tmp_path / "chart.png").exists()


# -- arguments --------------------------------------------------------------------


def settings(*argv: str) -> object:
    return br.settings_from(br.build_parser().parse_args(list(argv)))


def test_rollout_defaults():
    got = settings()
    assert got.spec == br.LoadSpec("http://127.0.0.1:8080/", 16, 0.25, 5.0, 0.5)
    assert (got.before, got.after, got.settle, got.step_timeout) == (5.0, 10.0, 10.0, 900.0)
    assert got.chart == br.DEFAULT_CHART
    assert got.batch_versions == ()
    config = got.spec.config(60.0)
    assert (config.clients, config.think, config.keepalive_ratio, config.post_ratio) == (16, 0.0, 0.5, 0.25)


def test_rollout_argument_bounds():
    got = settings(
        *("--clients", "1000", "--post-ratio", "2", "--keepalive-ratio", "-1", "--timeout", "0"),
        *("--before", "-5", "--after", "999", "--settle", "999", "--step-timeout", "1"),
        "--no-chart",
    )
    assert got.spec == br.LoadSpec("http://127.0.0.1:8080/", 64, 1.0, 0.5, 0.0)
    assert (got.before, got.after, got.settle) == (0.0, br.MAX_PAUSE, br.MAX_PAUSE)
    assert got.step_timeout == 30.0
    assert settings("--step-timeout", "99999").step_timeout == br.MAX_STEP
    assert got.chart is None
    assert br.window_limit(5, 900, 10) == 975.0
    assert br.window_limit(100, 5000, 100) == br.MAX_WINDOW
    assert br.window_limit(br.MAX_PAUSE, br.MAX_STEP, br.MAX_PAUSE) <= br.MAX_WINDOW


def test_rollout_load_stays_on_this_machine():
    assert br.check_url("http://localhost:8080/") == "http://localhost:8080/"
    for url in ("http://172.31.251.10/", "http://example.com:8080/", "ftp://127.0.0.1/"):
        with pytest.raises(ValueError, match="this machine only"):
            br.check_url(url)
    with pytest.raises(SystemExit) as exited:
        br.main(["--url", "http://10.0.0.1:8080/"])
    assert exited.value.code == 2


def test_rollout_batch_versions():
    assert settings("--batch-lab").batch_versions == ("2.0.0", "3.0.0")
    assert settings("--batch-lab", "--batch-versions", "4.0.0", "5.0.0").batch_versions == ("4.0.0", "5.0.0")
    assert settings("--batch-versions", "4.0.0", "5.0.0").batch_versions == ()  # no --batch-lab
    for versions in (["2.0.0", "2.0.0"], ["1.0.0", "2.0.0"]):
        with pytest.raises(ValueError, match="two versions"):
            settings("--batch-lab", "--batch-versions", *versions)


# -- load window against a local server -----------------------------------------


class IdentityHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = json.dumps({"host": "h1", "replica": "app_1", "version": "1.0.0"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


def test_measured_runs_the_step_inside_the_load_window(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), IdentityHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        spec = br.bounded_spec(url, 2, 0.25, 2.0)
        conf = br.Settings(spec, before=0.3, after=0.3, settle=0.0, step_timeout=30.0, log_dir=tmp_path)
        phase = br.measured(br.Phase("rolling", "Rolling", "1.0.0", "2.0.0"), conf, lambda: {"done": True})
    finally:
        server.shutdown()
        server.server_close()
    assert phase.error == ""
    assert phase.details == {"done": True}
    start, end = phase.step_window
    assert 0.2 < start <= end < 2.0
    assert phase.load.result.total > 0
    assert phase.load.result.failed == 0
    assert phase.load.replicas_max == 1
    assert json.loads((tmp_path / "rolling-loadgen.json").read_text())["summary"]["failed"] == 0


def test_measured_records_a_failing_step(tmp_path):
    spec = br.bounded_spec("http://127.0.0.1:9/", 1, 0.0, 0.5)  # nothing listens on port 9
    conf = br.Settings(spec, before=0.0, after=0.0, settle=0.0, step_timeout=30.0, log_dir=tmp_path)

    def step() -> dict[str, object]:
        raise bc.CommandError("boom")

    phase = br.measured(br.Phase("naive", "Naive", "2.0.0", "1.0.0"), conf, step)
    assert phase.error == "boom"
    assert phase.load is not None
    assert phase.load.replicas_max == 0


# -- restore, report --------------------------------------------------------------

SITE_OUTPUT = (
    "PLAY [App image and per-host stack on the app hosts] ***\n\n"
    + task("pyweb.ha.stack : Write the compose file", "0:00:10.000")
    + task("pyweb.ha.stack : Record the routes of the replicas", "0:00:11.000").replace("ok:", "changed:")
    + "changed: [pyweb-lab-app2]\n"
    + task("pyweb.ha.stack : Read or record the release of this host", "0:00:12.000").replace(
        "ok:", "changed:"
    )
    + task("pyweb.ha.stack : Install the replica watchdog", "0:00:13.000").replace(
        "ok: [pyweb-lab-app1]", "changed: [pyweb-lab-app1] => (item=/usr/local/sbin/pyweb-heal)"
    )
    + "changed: [pyweb-lab-app1] => (item=/etc/systemd/system/pyweb-heal.timer)\n"
    + "\nPLAY RECAP ***\npyweb-lab-app1 : ok=3 changed=3 unreachable=0 failed=0 skipped=0\n"
)


def test_changed_tasks_and_unexpected_changes():
    assert bc.changed_tasks(SITE_OUTPUT) == {
        "pyweb.ha.stack : Record the routes of the replicas": ["pyweb-lab-app1", "pyweb-lab-app2"],
        "pyweb.ha.stack : Read or record the release of this host": ["pyweb-lab-app1"],
        "pyweb.ha.stack : Install the replica watchdog": ["pyweb-lab-app1"],
    }
    assert br.unexpected_changes(SITE_OUTPUT) == {
        "pyweb.ha.stack : Install the replica watchdog": ["pyweb-lab-app1"]
    }
    assert br.unexpected_changes(UPGRADE_OUTPUT) == {}


def test_loadgen_module_and_inventory_argv():
    assert bc.loadgen_module() is sys.modules["tests.lib.loadgen"]
    argv = bc.playbook_argv("playbooks/upgrade.yml", {"rollout_batch": 3}, inventory=br.BENCH6_INVENTORY)
    assert argv[1:4] == ["-i", "inventories/bench6/hosts.yml", "playbooks/upgrade.yml"]
    assert json.loads(argv[5]) == {"rollout_batch": 3}
    assert (bc.REPO_ROOT / br.BENCH6_INVENTORY).is_file()


def figures(total: int, failed_get: int = 0, failed_post: int = 0, serving: int = 4) -> object:
    failed = failed_get + failed_post
    return br.LoadFigures(
        result=result(800.0, 5.0, 90.0, total=total, failed=failed),
        failed_by_method={"GET": failed_get, "POST": failed_post},
        failed_by_mode={"keepalive": failed // 2, "new": failed - failed // 2},
        replicas_min=serving,
        replicas_max=4,
        serving=[4, serving, 4],
        timeline=TIMELINE,
    )


def phases() -> list[object]:
    rolling = br.Phase("rolling", "Rolling: upgrade.yml", "1.0.0", "2.0.0", step_s=120.0, load=figures(9000))
    rolling.summary = br.parse_deploy_summary(ROLLOUT_OUTPUT)
    naive = br.Phase("naive", "Naive", "2.0.0", "1.0.0", step_s=14.5, load=figures(6000, 30, 12, 0))
    naive.details = {"hosts": [{"host": "pyweb-lab-app1", "compose_up_s": 2.0, "healthy_after_s": 14.0}]}
    return [rolling, naive]


def test_rollout_report_side_by_side():
    conf = settings()
    runs = [br.BatchRun(1, "1.0.0", "2.0.0", 0, 300.0, 250.0, 40.0, br.parse_deploy_summary(ROLLOUT_OUTPUT))]
    text = br.report(phases(), conf, br.DEFAULT_CHART, runs)
    lines = text.splitlines()
    assert lines[0].startswith("## Rolling upgrade vs naive cutover (16 clients at full speed, 50% ")
    assert cells(lines[2]) == ["", "Rolling: upgrade.yml", "Naive"]

    def row(label: str) -> list[str]:
        return cells(next(line for line in lines if line.startswith(f"| {label}")))[1:]

    assert row("Failed GETs") == ["0", "30"]
    assert row("Failed POSTs") == ["0", "12"]
    assert row("Failed on kept-alive / new") == ["0 / 0", "21 / 21"]
    assert row("Replicas serving per second") == ["4 of 4", "0 of 4"]
    assert row("Step duration") == ["120.0", "14.5"]
    assert row("Replica swap, median / max") == ["3.2 / 3.6", "-"]
    assert "![Rolling upgrade vs naive cutover: answers and p99 per second](rollout-vs-naive.png)" in lines
    swaps = "2 swap(s) in 8.7 s (app_1 3.0 s, app_2 3.2 s)"
    assert f"- rolling, pyweb-lab-app1: 1.0.0 -> 2.0.0, ok, {swaps}" in lines
    assert "- rolling, pyweb-lab-app3: not rolled" in lines
    assert "- naive, pyweb-lab-app1: `compose up -d` 2.0 s, every replica healthy after 14.0 s" in lines
    batch = next(line for line in lines if line.startswith("| rollout_batch=1"))
    assert cells(batch)[1:] == ["1.0.0 -> 2.0.0", "300.0", "40.0", "250.0", "3", "3.2 / 3.6", "ok"]


def test_rollout_report_without_load_and_document():
    phase = br.Phase("naive", "Naive", "2.0.0", "1.0.0", error="boom")
    assert br.phase_column(phase)[1:] == ["-"] * (len(br.ROW_LABELS) - 3) + [None, "-"]
    text = br.report([phase], settings(), None, [])
    assert "- naive failed: boom" in text.splitlines()
    assert "![" not in text
    outcome = br.Outcome(phases=phases(), old="1.0.0", new="2.0.0")
    outcome.restore.append({"playbook": "playbooks/site.yml", "returncode": 2, "log": "x.log"})
    document = br.to_document(outcome, settings(), None)
    assert document["error"] == "playbooks/site.yml failed, see x.log"
    json.dumps(document)


def test_chart_panels_and_link(tmp_path):
    panels = br.phase_panels(phases())
    assert [p.step for p in panels] == [None, None]
    assert panels[0].title == "Rolling: upgrade.yml, 1.0.0 -> 2.0.0\n9,000 requests, 0 failed"
    assert br.chart_link(bc.REPO_ROOT / "build" / "x.png").endswith("(../build/x.png)")
    assert br.chart_link(tmp_path / "x.png").endswith(f"({tmp_path / 'x.png'})")


def test_chart_from_an_earlier_document(tmp_path):
    pytest.importorskip("matplotlib")
    rolling, naive = phases()
    rolling.step_window = (0.5, 1.5)
    outcome = br.Outcome(phases=[rolling, naive], old="1.0.0", new="2.0.0")
    source = tmp_path / "rollout.json"
    bc.write_json(source, br.to_document(outcome, settings(), None))
    panels = br.document_panels(json.loads(source.read_text()))
    assert [p.title for p in panels] == [p.title for p in br.phase_panels([rolling, naive])]
    assert panels[0].step == (0.5, 1.5)
    chart = tmp_path / "chart.png"
    assert br.main(["--chart-from", str(source), "--chart", str(chart)]) == 0
    assert png_size(chart) == (1400, 800)
    assert br.main(["--chart-from", str(tmp_path / "missing.json"), "--chart", str(chart)]) == 1
    assert br.main(["--chart-from", str(source), "--no-chart"]) == 2


def test_play_lines():
    details = {"plays_s": {br.SHIP_PLAY: 12.5, br.ROLLOUT_PLAY: 40.0, "Deploy summary": 0.1}}
    assert br.play_lines("rolling", details) == [
        "- rolling: build + ship play 12.5 s, replace play 40.0 s (profile_tasks)"
    ]
    assert br.play_lines("rolling", {"plays_s": {}}) == []
