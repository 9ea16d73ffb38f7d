"""The parsing of pyweb.ha.host_facts (plugins/modules/host_facts.py): the
os-release files and the route of the two distributions the collection
supports, read as the setup module reads them (the values it gave on the lab's
Debian 13 and Ubuntu 24.04 hosts)."""

from __future__ import annotations

from plugins.modules.host_facts import distribution_facts, parse_os_release, parse_route

TRIXIE = """PRETTY_NAME="Debian GNU/Linux 13 (trixie)"
NAME="Debian GNU/Linux"
VERSION_ID="13"
VERSION="13 (trixie)"
VERSION_CODENAME=trixie
DEBIAN_VERSION_FULL=13.8
ID=debian
HOME_URL="https://www.debian.org/"
"""

NOBLE = """PRETTY_NAME="Ubuntu 24.04.3 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.3 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=noble
"""


def test_debian_takes_its_point_release_from_debian_version() -> None:
    facts = distribution_facts(parse_os_release(TRIXIE), "13.8\n")
    assert facts == {
        "distribution": "Debian",
        "distribution_version": "13.8",
        "distribution_major_version": "13",
        "distribution_release": "trixie",
        "os_family": "Debian",
    }


def test_debian_testing_keeps_the_os_release_version() -> None:
    facts = distribution_facts(parse_os_release(TRIXIE), "trixie/sid\n")
    assert (facts["distribution_version"], facts["distribution_major_version"]) == ("13", "13")


def test_ubuntu_is_of_the_debian_family_and_ignores_debian_version() -> None:
    facts = distribution_facts(parse_os_release(NOBLE), "trixie/sid\n")
    assert facts == {
        "distribution": "Ubuntu",
        "distribution_version": "24.04",
        "distribution_major_version": "24",
        "distribution_release": "noble",
        "os_family": "Debian",
    }


def test_an_unknown_distribution_is_named_by_os_release() -> None:
    facts = distribution_facts(parse_os_release('NAME="Fedora Linux"\nID=fedora\nVERSION_ID=41\n'), None)
    assert facts["distribution"] == "Fedora"
    assert facts["os_family"] == "Fedora"
    assert facts["distribution_release"] == ""


def test_comments_and_blank_lines_are_skipped() -> None:
    assert parse_os_release('# a comment\n\nID=debian\nNAME="Debian GNU/Linux"\n') == {
        "ID": "debian",
        "NAME": "Debian GNU/Linux",
    }


def test_the_default_route_gives_address_interface_and_gateway() -> None:
    out = "8.8.8.8 via 172.31.251.1 dev eth0 src 172.31.251.11 uid 0 \\    cache \n"
    assert parse_route(out) == {"address": "172.31.251.11", "interface": "eth0", "gateway": "172.31.251.1"}


def test_an_on_link_route_has_no_gateway() -> None:
    assert parse_route("8.8.8.8 dev eth1 src 10.0.0.5 uid 0 \\    cache \n") == {
        "address": "10.0.0.5",
        "interface": "eth1",
    }


def test_no_route_gives_nothing() -> None:
    assert parse_route("") == {}
    assert parse_route("RTNETLINK answers: Network is unreachable") == {}
