"""``kanal units list`` and ``kanal staff add --unit``, run as a subprocess against a real
database."""

from __future__ import annotations

import json

import pytest

from tests.test_cli_staff import PASSWORD, accounts, cli_env, kanal_ok, run_kanal  # noqa: F401


def test_units_list_json_and_table(cli_env):  # noqa: F811
    listed = json.loads(kanal_ok("units", "list", "--json", env=cli_env))
    assert len(listed) == 5 + 3 + 2 + 7 + 1 + 1 + 14
    assert all({"id", "kind", "name", "active"} <= set(u) for u in listed)
    first = listed[0]
    assert first == {"id": "kota-31.71", "kind": "kota", "name": "Kota Administrasi Uji Pusat",
                     "active": True, "parent_id": None, "kota_code": "31.71",
                     "area_code": "31.71"}
    sudin = next(u for u in listed if u["id"] == "sudin-bina-marga-31.72")
    assert (sudin["kind"], sudin["dinas"], sudin["kota"], sudin["name"]) == (
        "sudin", "dinas-bina-marga", "kota-31.72",
        "Suku Dinas Bina Marga Kota Administrasi Uji Utara")
    assert all("dinas" not in u for u in listed if u["kind"] != "sudin")

    kelurahan = json.loads(kanal_ok("units", "list", "--kind", "kelurahan", "--json",
                                    env=cli_env))
    assert [u["id"] for u in kelurahan] == [
        "kelurahan-31.71.01.1001", "kelurahan-31.71.01.1002", "kelurahan-31.71.02.1001",
        "kelurahan-31.72.01.1001", "kelurahan-31.72.01.1002"]
    lines = kanal_ok("units", "list", "--kind", "biro", env=cli_env).splitlines()
    assert lines[0].split() == ["ID", "KIND", "PARENT_ID", "ACTIVE", "NAME"]
    assert lines[1].split() == ["biro-pemerintahan", "biro", "yes", "Biro", "Pemerintahan"]
    assert lines[-1] == "1 unit(s)"


def test_an_unknown_kind_is_a_usage_error(cli_env):  # noqa: F811
    out = run_kanal("units", "list", "--kind", "bidang", env=cli_env)
    assert out.returncode == 2 and "'bidang' is not one of 'kota'" in out.stderr


@pytest.mark.parametrize("unit, message", [
    (None, "kanal: an officer account needs --unit (see kanal units list)"),
    ("kelurahan-99", "kanal: no unit 'kelurahan-99' (see kanal units list)"),
], ids=["without-unit", "unknown-unit"])
def test_an_officer_needs_a_known_unit(cli_env, unit, message):  # noqa: F811
    args = ["staff", "add", "budi", "--role", "officer", "--password-stdin"]
    out = run_kanal(*args, *(["--unit", unit] if unit else []), env=cli_env,
                    stdin=PASSWORD + "\n")
    assert out.returncode == 2
    assert out.stderr.strip() == message
    assert "budi" not in accounts(cli_env)


def test_officer_and_supervisor_accounts_with_their_unit(cli_env):  # noqa: F811
    out = kanal_ok("staff", "add", "budi", "--role", "officer", "--unit",
                   "sudin-bina-marga-31.71", "--password-stdin", env=cli_env,
                   stdin=PASSWORD + "\n")
    assert out == "added officer account budi at sudin-bina-marga-31.71\n"
    assert kanal_ok("staff", "add", "sari", "--role", "supervisor", "--unit",
                    "biro-pemerintahan", "--password-stdin", env=cli_env,
                    stdin=PASSWORD + "\n")
    assert kanal_ok("staff", "add", "tono", "--role", "supervisor", "--password-stdin",
                    env=cli_env, stdin=PASSWORD + "\n") == "added supervisor account tono\n"
    listed = accounts(cli_env)
    assert {u: a["unit_id"] for u, a in listed.items()} == {
        "budi": "sudin-bina-marga-31.71", "sari": "biro-pemerintahan", "tono": None}
    table = kanal_ok("staff", "list", env=cli_env).splitlines()
    assert table[1].split()[:3] == ["budi", "officer", "sudin-bina-marga-31.71"]


def routes(env) -> dict[str, dict]:
    return {r["category"]: r for r in json.loads(kanal_ok("units", "routes", "--json",
                                                          env=env))}


def test_units_route_changes_the_map_and_is_audited(cli_env):  # noqa: F811
    before = routes(cli_env)
    assert before["jalan-rusak"] == {
        "category": "jalan-rusak", "name": "Jalan rusak", "file": "dinas-bina-marga",
        "chosen": "dinas-bina-marga", "dinas": "dinas-bina-marga", "source": "file"}
    assert before["lainnya"]["dinas"] is None and before["lainnya"]["source"] == "file"
    env = {**cli_env, "KANAL_ACTOR": "ops-ani"}
    assert kanal_ok("units", "route", "jalan-rusak", "dinas-sumber-daya-air", env=env) == (
        "jalan-rusak routed to dinas-sumber-daya-air\n")
    assert kanal_ok("units", "route", "sampah", "--none", env=env) == (
        "sampah kept with the kelurahan\n")
    assert kanal_ok("units", "route", "banjir", "dinas-sumber-daya-air", env=env) == (
        "banjir routed to dinas-sumber-daya-air already\n")
    after = routes(cli_env)
    assert (after["jalan-rusak"]["dinas"], after["jalan-rusak"]["source"]) == (
        "dinas-sumber-daya-air", "database")
    assert (after["sampah"]["dinas"], after["sampah"]["file"]) == (None,
                                                                   "dinas-lingkungan-hidup")
    table = kanal_ok("units", "routes", env=cli_env).splitlines()
    assert table[0].split() == ["CATEGORY", "DINAS", "SOURCE", "FILE", "CHOSEN"]
    assert "jalan-rusak dinas-sumber-daya-air database dinas-bina-marga" in " ".join(
        " ".join(line.split()) for line in table)
    assert kanal_ok("units", "route", "jalan-rusak", "--reset", env=env) == (
        "jalan-rusak routed to dinas-bina-marga (config/units.yaml)\n")
    assert kanal_ok("units", "route", "jalan-rusak", "--reset", env=env) == (
        "jalan-rusak already follows config/units.yaml: routed to dinas-bina-marga\n")
    trail = json.loads(kanal_ok("audit", "list", "--json", env=cli_env))
    assert [(e["actor"], e["action"], e["setting"]) for e in trail][:3] == [
        ("ops-ani", "category_route_reset", "jalan-rusak"),
        ("ops-ani", "category_routed", "sampah"),
        ("ops-ani", "category_routed", "jalan-rusak")]


@pytest.mark.parametrize("args, message", [
    (["kucing", "dinas-bina-marga"], "kanal: no category 'kucing' (known: "),
    (["banjir", "dinas-kucing"], "kanal: no unit 'dinas-kucing' (see kanal units list)"),
    (["banjir", "sudin-bina-marga-31.71"], "kanal: 'sudin-bina-marga-31.71' is a sudin"),
    (["banjir"], "give one of DINAS_ID, --none or --reset"),
    (["banjir", "dinas-bina-marga", "--none"], "give one of DINAS_ID, --none or --reset"),
], ids=["category", "unit", "sudin", "nothing", "two"])
def test_a_wrong_route_exits_2_and_changes_nothing(cli_env, args, message):  # noqa: F811
    out = run_kanal("units", "route", *args, env=cli_env)
    assert out.returncode == 2 and message in out.stderr
    assert {r["source"] for r in routes(cli_env).values()} == {"file"}
