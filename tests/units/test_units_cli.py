import json

from typer.testing import CliRunner

from dancu.cli import app

runner = CliRunner()


def test_convert(database_url):
    result = runner.invoke(app, ["address", "convert", "Phường Bến Nghé, Quận 1, TP Hồ Chí Minh"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Phường Sài Gòn, Thành phố Hồ Chí Minh"


def test_convert_json_and_split_note(database_url):
    result = runner.invoke(app, ["address", "convert", "--json", "Xã Hòa Liên, Huyện Hòa Vang, Đà Nẵng"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["new_address"] == "Phường Liên Chiểu, Thành phố Đà Nẵng"
    assert data["is_default_choice"] and len(data["all_candidates"]) == 2
    assert data["old_district"]["name"] == "Huyện Hòa Vang"
    plain = runner.invoke(app, ["address", "convert", "Xã Hòa Liên, Huyện Hòa Vang, Đà Nẵng"])
    assert "was split" in plain.stderr and "Phường Hải Vân" in plain.stderr


def test_convert_bad_address_exits_2(database_url):
    result = runner.invoke(app, ["address", "convert", "nowhere at all"])
    assert result.exit_code == 2
    assert "error: no Vietnamese province" in result.stderr


def test_units_lists_communes_and_provinces(database_url):
    result = runner.invoke(app, ["address", "units", "--province", "79"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 168
    assert "26740\tPhường\tPhường Sài Gòn, Thành phố Hồ Chí Minh" in lines
    provinces = runner.invoke(app, ["address", "units", "--scheme", "legacy", "--json"])
    assert len(json.loads(provinces.stdout)) == 63
    bad = runner.invoke(app, ["address", "units", "--province", "74"])
    assert bad.exit_code == 2 and "no province with code '74'" in bad.stderr


def test_search(database_url):
    result = runner.invoke(app, ["address", "search", "sai gon", "--limit", "3"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("26740\tPhường\tPhường Sài Gòn")
