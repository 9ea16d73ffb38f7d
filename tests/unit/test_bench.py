"""Unit tests of the pure parts of the benchmark scripts (scripts/bench_*.py).

Nothing here starts a container, a playbook or load: the helpers that do are
exercised by running the scripts against the lab (docs/benchmarks.md).
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
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
        " && docker compose up -d"
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


def test_rollout_bounds_and_loadgen_argv(tmp_path):
    spec = br.bounded_spec("http://127.0.0.1:8080/", 1000, 0.25, 5.0)
    assert spec.clients == 64
    assert br.window_limit(5, 900, 10) == 975.0
    assert br.window_limit(100, 5000, 100) == 1800.0
    argv = br.loadgen_argv(spec, 975.0, tmp_path / "stop", tmp_path / "out.json")
    assert argv[1].endswith("tests/lib/loadgen.py")
    assert argv[argv.index("--stop-file") + 1] == str(tmp_path / "stop")
    assert argv[argv.index("--duration") + 1] == "975"
    assert "--allow-failures" in argv


def test_rollout_report_side_by_side():
    rolling = br.Phase(
        "rolling", "Rolling: upgrade.yml", "1.0.0", "2.0.0", step_s=120.0, load=result(800.0, 5, 90)
    )
    rolling.details = {"swap": bc.swap_report(UPGRADE_OUTPUT, 4)}
    naive = br.Phase("naive", "Naive", "2.0.0", "1.0.0", step_s=14.5, load=result(600.0, 5, 900, failed=42))
    settings = br.Settings(
        spec=br.bounded_spec("http://127.0.0.1:8080/", 16, 0.25, 5.0),
        before=5.0,
        after=10.0,
        settle=10.0,
        step_timeout=900.0,
        work_dir=Path("/tmp"),
        log_dir=Path("/tmp"),
    )
    text = br.report([rolling, naive], settings.spec, settings)
    lines = text.splitlines()
    assert "| Rolling: upgrade.yml |" in lines[2]
    failures = next(line for line in lines if line.startswith("| Failures"))
    assert "0 (0 + 0)" in failures
    assert "42 (42 + 0)" in failures
    assert any("mean 9.50 s" in line and "over 4 swaps" in line for line in lines)
    assert any("12.50 s per replica" in line for line in lines)
    json.dumps([rolling.to_dict(), naive.to_dict()])


def test_rollout_report_without_load():
    phase = br.Phase("naive", "Naive", "2.0.0", "1.0.0", error="boom")
    assert br.phase_column(phase)[1:] == ["-"] * 8
    assert br.swap_lines({"method": "unavailable"}) == ["- Time per replica swap: unavailable."]
