"""The ``http_json`` connector: records at a dotted path of a JSON answer.

Contract: section 3 (``{type: http_json, url, records: data.items}``, ``${VAR}`` also inside a
longer string, inline tokens refused), section 2 (a source failing at run time: exit 1 with an
ERROR line naming it, the rest computed; validate: exit 2; never a traceback; a value that is not
a number is a WARNING naming the row), section 5 (the rows equal the CSV version's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cities
import pytest
from servers import run_cli

CSV_IND = {
    "id": "cases_csv",
    "name": "办件量(文件)",
    "source": "csv",
    "time": {"column": "accepted_at", "grain": "month"},
    "region": "region_code",
    "measure": {"type": "count"},
}


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("http_city")
    records = cities.records()
    cities.write_csv(folder / "data" / "city.csv", records)
    return {"folder": folder, "records": records, "csv": cities.csv_reference(tmp_path_factory), "n": 0}


def _path(city: dict[str, Any]) -> str:
    city["n"] += 1
    return f"/cities/{city['n']}/items"


def _config(city: dict[str, Any], url: str, name: str, *, indicators=None, http=None) -> Path:
    """A config whose indicators read the API at ``url`` (``http`` replaces the whole source)."""
    text = cities.city_yaml("http", city["folder"], http_url=url, indicators=indicators)
    config = city["folder"] / f"{name}.yaml"
    if http is not None:
        import yaml

        doc = yaml.safe_load(text)
        doc["sources"]["http"] = http
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=200)
    config.write_text(text, encoding="utf-8")
    return config


@pytest.fixture(scope="module")
def http_rows(city, http_json_server) -> dict[str, list[dict[str, Any]]]:
    url = http_json_server.add(_path(city), cities.http_document(city["records"]))
    proc, rows = cities.compute(_config(city, url, "http_all"))
    cities.assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert not cities.error_lines(proc.stderr)
    return cities.by_indicator(rows)


@pytest.mark.parametrize("indicator", cities.INDICATOR_IDS)
def test_rows_equal_csv(city, http_rows, indicator):
    cities.assert_rows_equal(http_rows.get(indicator, []), city["csv"][indicator], f"http/{indicator}")


def _items(city) -> list[dict[str, Any]]:
    return cities.http_document(city["records"])["data"]["items"]


def _as_text(items: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    out = []
    for it in items:
        it = dict(it)
        for k in keys:
            if it[k] is not None:
                it[k] = str(it[k])
        out.append(it)
    return out


def _with_bad_value(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    items = [dict(it) for it in items]
    i = next(i for i, it in enumerate(items) if it["days"] is not None and it["accepted_at"] >= "2026-02")
    items[i]["days"] = "n/a"
    return items


# variant → (document, records path, indicators)
VARIANTS = {
    # without `records` the answer itself is the list
    "root": (lambda items: items, None, ["cases", "online_rate"]),
    "deep": (
        lambda items: {"result": {"page": {"data": {"list": items}}}},
        "result.page.data.list",
        ["cases_week"],
    ),
    # many government APIs send every value as a string: "990100", "3.5"
    "text": (
        lambda items: {"data": {"items": _as_text(items, ("id", "region_code", "days"))}},
        "data.items",
        ["cases", "days_total", "days_mean", "days_median", "long_days_share"],
    ),
    "bad": (lambda items: {"data": {"items": _with_bad_value(items)}}, "data.items", ["cases", "days_total"]),
    "objs": (lambda items: {"data": {"items": [*items, None, 42, "x"]}}, "data.items", ["cases"]),
}


@pytest.fixture(scope="module")
def variants(city, http_json_server) -> dict[str, Any]:
    """One config, one API source per variant, indicators renamed ``<id>__<variant>``; one compute."""
    import yaml

    doc = yaml.safe_load(cities.city_yaml("csv", city["folder"], indicators=[]))
    specs = {i["id"]: i for i in cities.INDICATORS}
    for name, (make, records, ids) in VARIANTS.items():
        url = http_json_server.add(_path(city), make(_items(city)))
        src = {"type": "http_json", "url": url}
        if records:
            src["records"] = records
        doc["sources"][f"v_{name}"] = src
        for ind in ids:
            doc["indicators"].append(dict(specs[ind], id=f"{ind}__{name}", source=f"v_{name}"))
    config = city["folder"] / "http_variants.yaml"
    config.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=200), encoding="utf-8")
    proc, rows = cities.compute(config)
    cities.assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert not cities.error_lines(proc.stderr), proc.stderr
    return {"proc": proc, "rows": cities.by_indicator(rows)}


def _renamed(rows: list[dict[str, Any]], new_id: str) -> list[dict[str, Any]]:
    return [dict(r, indicator=new_id) for r in rows]


@pytest.mark.parametrize(
    ("variant", "indicator"),
    [(v, i) for v, (_, _, ids) in VARIANTS.items() if v != "bad" for i in ids],
)
def test_variant_rows_equal_csv(city, variants, variant, indicator):
    new_id = f"{indicator}__{variant}"
    cities.assert_rows_equal(
        variants["rows"].get(new_id, []), _renamed(city["csv"][indicator], new_id), new_id
    )


def test_a_value_that_is_not_a_number_is_a_warning(city, variants):
    warnings = [x for x in variants["proc"].stderr.splitlines() if x.startswith("WARNING:")]
    assert any("source 'v_bad'" in w and "days" in w and "n/a" in w for w in warnings), variants[
        "proc"
    ].stderr
    got = variants["rows"]
    # the record itself still counts; its days are read as null (or the row is skipped, with the warning)
    counted = got["cases__bad"]
    want = _renamed(city["csv"]["cases"], "cases__bad")
    if len(counted) == len(want):
        cities.assert_rows_equal(counted, want, "cases__bad")
    assert len(got["days_total__bad"]) == len(city["csv"]["days_total"])


def test_records_that_are_not_objects_are_skipped_with_a_warning(variants):
    lines = [
        x for x in variants["proc"].stderr.splitlines() if x.startswith("WARNING:") and "source 'v_objs'" in x
    ]
    assert any("3" in x and "not objects" in x for x in lines), variants["proc"].stderr


def test_numbers_sent_as_text_in_a_where_only_column(city, http_json_server):
    doc = cities.http_document(city["records"])
    for item in doc["data"]["items"]:
        if item["days"] is not None:
            item["days"] = str(item["days"])
    url = http_json_server.add(_path(city), doc)
    proc, rows = cities.compute(_config(city, url, "http_text_where", indicators=["cases_by_date"]))
    cities.assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    cities.assert_rows_equal(
        cities.by_indicator(rows).get("cases_by_date", []), city["csv"]["cases_by_date"], "cases_by_date"
    )


# ----------------------------------------------------------------- failures


FAILURES = {
    "http-500": (lambda s, p: s.add_error(p, 500), ["HTTP 500"]),
    "http-404": (lambda s, p: s.url(p), ["404"]),
    "not-json": (
        lambda s, p: s.add(p, "<html><body>系统维护中</body></html>", content_type="text/html"),
        ["JSON"],
    ),
    "broken-json": (
        lambda s, p: s.add(p, b'{"data": {"items": [{"id": 1', content_type="application/json"),
        ["JSON"],
    ),
    "no-records-path": (lambda s, p: s.add(p, {"data": {"rows": []}}), ["data.items"]),
    "records-not-a-list": (lambda s, p: s.add(p, {"data": {"items": {"id": 1}}}), ["data.items", "list"]),
    "connection-closed": (lambda s, p: s.add_close(p), []),
}


def _src(case: str) -> str:
    return "api_" + case.replace("-", "_")


@pytest.fixture(scope="module")
def failures(city, http_json_server) -> dict[str, Any]:
    """One config: a failing API per case (each with its own indicator) and a CSV-backed indicator.
    compute and validate run once; each case then reads its own lines."""
    import yaml

    doc = yaml.safe_load(cities.city_yaml("csv", city["folder"], indicators=[], extra_indicators=[CSV_IND]))
    for case, (register, _) in FAILURES.items():
        url = register(http_json_server, _path(city))
        doc["sources"][_src(case)] = {"type": "http_json", "url": url, "records": "data.items"}
        doc["indicators"].append(dict(CSV_IND, id=f"cases_{_src(case)}", source=_src(case)))
    config = city["folder"] / "http_failures.yaml"
    config.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=200), encoding="utf-8")
    proc, rows = cities.compute(config)
    v = run_cli("validate", "--config", config)
    return {"compute": proc, "rows": cities.by_indicator(rows), "validate": v}


def test_failing_apis_exit_1_and_the_rest_is_computed(city, failures):
    proc = failures["compute"]
    cities.assert_no_traceback(proc)
    assert proc.returncode == 1, proc.stderr
    got = failures["rows"]
    assert set(got) == {"cases_csv"}, set(got)
    want = [dict(r, indicator="cases_csv") for r in city["csv"]["cases"] if r["department"] is None]
    cities.assert_rows_equal(got["cases_csv"], want, "cases_csv beside failing APIs")


@pytest.mark.parametrize("case", list(FAILURES))
def test_a_failing_answer_is_an_error_naming_its_source(failures, case):
    _, words = FAILURES[case]
    for cmd, code in (("compute", 1), ("validate", 2)):
        proc = failures[cmd]
        cities.assert_no_traceback(proc)
        assert proc.returncode == code, proc.stderr
        mine = [e for e in cities.error_lines(proc.stderr) if f"source '{_src(case)}'" in e]
        assert len(mine) == 1, (cmd, proc.stderr)
        for w in words:
            assert w in mine[0], (cmd, w, mine)


def test_timeout(city, http_json_server):
    path = _path(city)
    url = http_json_server.add(path, cities.http_document(city["records"]), delay=3)
    config = _config(
        city,
        url,
        "http_timeout",
        indicators=["cases"],
        http={"type": "http_json", "url": url, "records": "data.items", "timeout": 0.5},
    )
    proc, _ = cities.compute(config)
    cities.assert_no_traceback(proc)
    assert proc.returncode == 1
    assert any("source 'http'" in e for e in cities.error_lines(proc.stderr)), proc.stderr


# ----------------------------------------------------------------- secrets


def test_token_from_the_environment_is_sent_and_never_printed(city, http_json_server):
    token = "tok-5f3a9c-secret"
    path = _path(city)
    http_json_server.add(path, cities.http_document(city["records"]))
    url_tpl = http_json_server.url(path) + "?page=1&access_token=${API_TOKEN}"
    http = {
        "type": "http_json",
        "url": url_tpl,
        "records": "data.items",
        "headers": {"Authorization": "Bearer ${API_TOKEN}"},
    }
    config = _config(city, http_json_server.url(path), "http_token", indicators=["cases"], http=http)
    mark = http_json_server.mark()
    proc, rows = cities.compute(config, env={"API_TOKEN": token})
    assert proc.returncode == 0, proc.stderr
    cities.assert_rows_equal(cities.by_indicator(rows)["cases"], city["csv"]["cases"], "cases")
    reqs = [r for r in http_json_server.requests_since(mark) if r.path == path]
    assert reqs and reqs[0].query.get("access_token") == [token]
    assert reqs[0].headers.get("Authorization") == f"Bearer {token}"
    assert token not in proc.stderr  # the warning about region 990999 names the source by its URL
    # the same API failing: the error line names the source, not the token
    http_json_server.add_error(path, 503)
    proc, _ = cities.compute(config, env={"API_TOKEN": token})
    assert proc.returncode == 1
    assert any("source 'http'" in e for e in cities.error_lines(proc.stderr)), proc.stderr
    assert token not in proc.stderr + proc.stdout


def test_inline_token_is_refused(city, http_json_server):
    url = http_json_server.url(_path(city)) + "?access_token=abc123inline"
    config = _config(city, url, "http_inline", indicators=["cases"])
    for cmd in ("compute", "validate"):
        proc = run_cli(cmd, "--config", config)
        cities.assert_no_traceback(proc)
        assert proc.returncode == 2, proc.stderr
        assert any("source 'http'" in e and "url" in e for e in cities.error_lines(proc.stderr)), proc.stderr
        assert "abc123inline" not in proc.stderr


def test_same_document_twice_is_stable(city, http_rows):
    """Reading the API again gives the same rows (no stale or doubled temporary table)."""
    proc, rows = cities.compute(
        city["folder"] / "http_all.yaml", "--indicator", "cases_ytd", "--indicator", "applicants"
    )
    assert proc.returncode == 0, proc.stderr
    got = cities.by_indicator(rows)
    for ind in ("cases_ytd", "applicants"):
        cities.assert_rows_equal(got[ind], http_rows[ind], ind)
