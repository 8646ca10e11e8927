"""The 数据填报 page in a real headless Chromium: a reporter types a row into the data editor and submits.

``streamlit run app.py`` runs on a copy of the sample city's config in a temporary folder
(``COCKPIT_CONFIG``), its data folder linked and its form seed copied, so the form store the
page writes is the copy's ``.cockpit/forms.db`` and the repository's own ``.cockpit`` is left
alone. What the page stored is read back with ``FormStore`` on that copy.

``st.data_editor`` is a Glide Data Grid: a canvas, with an accessible ``table[role=grid]``
inside it that mirrors the cells. A click on the first data cell selects it (hide_index: the
first column is the first field); then, per cell, Enter opens the cell's editor
(``input.gdg-input``), ``fill`` types the value, Enter commits it, and ArrowRight moves to the
next column. Typing straight onto a selected cell loses the first keystroke (the grid opens the
editor on it), so the tests always open the editor with Enter first.

The screenshot ``docs/screenshots/forms-1920.png`` is written only with ``UPDATE_SCREENSHOTS=1``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect
from servers import REPO_ROOT
from test_browser import LOAD_TIMEOUT_MS, MAX_SCREENSHOT_BYTES, SCREENSHOTS, Tab, no_exception

from metrics import periods
from metrics.catalogue.load import load_catalogue
from metrics.forms import FormStore, get_form, reporters, write_template

pytestmark = pytest.mark.browser

FORM = "county_monthly"
EDITOR = '[data-testid="stDataFrame"]:has(th:text-is("走访企业数（家）"))'
IDLE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample's config in a temporary folder: data linked, the form's seed copied."""
    if not (REPO_ROOT / "data" / ".sample-stamp").exists():
        pytest.skip("no sample city in data/ (run `make sample`)")
    folder = tmp_path_factory.mktemp("forms-city")
    shutil.copy(REPO_ROOT / "indicators.yaml", folder / "indicators.yaml")
    (folder / "data").symlink_to(REPO_ROOT / "data", target_is_directory=True)
    shutil.copytree(REPO_ROOT / "forms", folder / "forms")
    return folder / "indicators.yaml"


@pytest.fixture(scope="module")
def server(streamlit_server, city: Path):
    return streamlit_server("app.py", cwd=REPO_ROOT, env={"COCKPIT_CONFIG": str(city)})


@pytest.fixture
def tab(browser) -> Iterator[Tab]:
    t = Tab(browser, 1920, 1080)
    try:
        yield t
    finally:
        t.close()


def open_month() -> str:
    """The month not yet ended: due next month, so a submission made now is on time."""
    return periods.to_period(dt.date.today(), "month")


def idle(p) -> None:
    p.wait_for_timeout(250)  # the status widget shows a moment after a rerun starts
    p.wait_for_function(IDLE, timeout=LOAD_TIMEOUT_MS)


def open_reporter(tab: Tab, url: str, region: str):
    p = tab.page
    p.goto(f"{url}/forms?form={FORM}&period={open_month()}&region={region}")
    p.wait_for_selector(EDITOR, timeout=LOAD_TIMEOUT_MS)
    p.wait_for_function(IDLE + " && document.fonts.status === 'loaded'", timeout=LOAD_TIMEOUT_MS)
    return p


def cells(p) -> list[str]:
    """The editor's row as the grid holds it (its accessible table)."""
    return p.locator(EDITOR).evaluate("e => [...e.querySelectorAll('td')].map(td => td.textContent)")


def type_row(p, values: dict[int, str]) -> None:
    """Type each value into its column of the editor's one row, with the keyboard as a user does."""
    grid = p.locator(EDITOR).locator('[data-testid="stDataFrameResizable"]')  # the canvas is under a scroller
    box = p.locator("input.gdg-input, textarea.gdg-input")
    grid.click(position={"x": 40, "y": 35 + 17})  # the header is 35 px high, then the first row
    p.wait_for_timeout(200)
    if box.count():  # a click on the cell already selected opens its editor: close it unchanged
        p.keyboard.press("Escape")
        box.wait_for(state="detached", timeout=5_000)
    col = 0
    for target, value in sorted(values.items()):
        while col < target:
            p.keyboard.press("ArrowRight")
            col += 1
        p.keyboard.press("Enter")
        box.wait_for(timeout=5_000)
        box.fill(value)
        p.keyboard.press("Enter")
        box.wait_for(state="detached", timeout=5_000)
        expect(p.locator(EDITOR).locator("td").nth(col)).to_have_text(value, timeout=5_000)


def stored(city: Path, region: str):
    cat = load_catalogue(city)
    rep = next(r for r in reporters(cat, get_form(cat, FORM)) if r.id == region)
    store = FormStore.for_catalogue(cat)
    return store.get(FORM, open_month(), rep), store.history(FORM, open_month(), rep)


def screenshot(p, name: str) -> None:
    if os.environ.get("UPDATE_SCREENSHOTS") != "1":
        return
    path = SCREENSHOTS / name
    path.parent.mkdir(parents=True, exist_ok=True)
    p.mouse.move(0, 0)  # no hover toolbar over the grid
    p.wait_for_timeout(300)
    p.screenshot(path=str(path))
    assert path.stat().st_size < MAX_SCREENSHOT_BYTES, f"{path} is {path.stat().st_size} bytes"


def test_reporter_types_into_the_grid_sees_the_check_and_submits(server, city: Path, tab: Tab) -> None:
    p = open_reporter(tab, server.url, "130304")
    no_exception(p)
    label = periods.label(open_month())
    assert "北戴河区 · 区县月度填报 · " + label in p.locator("h3").first.inner_text()
    assert cells(p) == ["", "", "", ""]

    # the row as it is typed: the missing required fields, then solved > visits, in Chinese
    error = p.locator('[data-testid="stAlertContentError"]')
    type_row(p, {0: "12"})
    expect(error).to_contain_text("解决问题数：必填", timeout=LOAD_TIMEOUT_MS)
    type_row(p, {1: "20", 2: "3"})
    expect(error).to_contain_text("解决问题数：解决问题数不能大于走访企业数", timeout=LOAD_TIMEOUT_MS)
    assert "必填" not in error.inner_text()  # the rule's message alone, on the field it names first
    assert stored(city, "130304") == (None, [])  # an edit is not a save

    # corrected, the note added, then 提交
    type_row(p, {1: "5", 3: "浏览器填报"})
    expect(error).to_have_count(0, timeout=LOAD_TIMEOUT_MS)
    assert cells(p) == ["12", "5", "3", "浏览器填报"]
    idle(p)
    p.get_by_role("button", name="提交", exact=True).click()
    success = p.locator('[data-testid="stAlertContentSuccess"]')
    expect(success).to_contain_text(f"北戴河区 {label} 已提交。", timeout=LOAD_TIMEOUT_MS)
    idle(p)

    sub, history = stored(city, "130304")
    assert sub is not None and sub.status == "submitted" and sub.submitted_by == "demo"
    assert sub.values == {"visits": 12, "solved": 5, "projects": 3, "note": "浏览器填报"}
    assert [(h.action, h.origin) for h in history] == [("submit", "page")]
    # the page now shows the stored row and offers a revision
    assert "状态：已提交" in p.locator('[data-testid="stMain"]').inner_text().replace("**", "")
    assert p.get_by_role("button", name="提交修改", exact=True).count() == 1
    assert cells(p) == ["12", "5", "3", "浏览器填报"]
    no_exception(p)
    screenshot(p, "forms-1920.png")

    # the city's completion board for the month: 北戴河区 已报
    p.get_by_text("完成情况（市级）", exact=True).click()
    board = p.locator('[data-testid="stDataFrame"]:has(th:text-is("代码"))')
    board.wait_for(timeout=LOAD_TIMEOUT_MS)
    idle(p)
    rows = board.evaluate(
        "e => [...e.querySelectorAll('tbody tr')].map(tr => [...tr.querySelectorAll('td')].map(td => td.textContent))"
    )
    mine = [r for r in rows if r[0] == "130304"]
    assert mine and mine[0][2] == "✅ 已报", rows
    assert not tab.errors, tab.errors


def test_reporter_uploads_the_filled_excel_template(server, city: Path, tab: Tab, tmp_path: Path) -> None:
    import openpyxl

    cat = load_catalogue(city)
    template = tmp_path / "山海关区.xlsx"
    write_template(cat, FORM, template)
    wb = openpyxl.load_workbook(template)
    wb.worksheets[0].append([open_month(), "130303", 9, 4, 2, "模板填报"])
    wb.save(template)

    p = open_reporter(tab, server.url, "130303")
    p.locator('[data-testid="stExpander"] summary', has_text="用 Excel 模板填报").click()
    p.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(template))
    button = p.get_by_role("button", name="导入并提交")
    button.wait_for(timeout=LOAD_TIMEOUT_MS)
    idle(p)
    button.click()
    success = p.locator('[data-testid="stAlertContentSuccess"]')
    expect(success).to_contain_text("已从 山海关区.xlsx 导入 1 行。", timeout=LOAD_TIMEOUT_MS)
    idle(p)
    no_exception(p)

    sub, history = stored(city, "130303")
    assert sub is not None and sub.status == "submitted"
    assert sub.values == {"visits": 9, "solved": 4, "projects": 2, "note": "模板填报"}
    assert [(h.action, h.origin) for h in history] == [("import", "山海关区.xlsx")]
    assert cells(p) == ["9", "4", "2", "模板填报"]  # the editor shows the imported row
    assert not tab.errors, tab.errors
