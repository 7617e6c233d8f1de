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
