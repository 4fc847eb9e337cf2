"""The dashboard in narrow windows: at 900 px with JupyterLab's file browser open, and
at 700 px, every control is on screen, inside its output area and not cut off."""

from __future__ import annotations

import pytest
from dashboard_view import DashboardView
from notebook_code import DASHBOARD, THREAD_SETUP
from notebook_page import NotebookPage
from playwright.sync_api import expect

JOBS = """\
done = jobnb.options(name="done-with-a-rather-long-name").submit(fit, 1)
done.wait(30)
running = jobnb.options(name="running").submit(spin, 300)
"""

#: a control fits when its box is inside the output area and the window, and its text
#: is not cut (a button's or label's content no wider than its box)
FITS = """([el, area, width]) => {
    const box = el.getBoundingClientRect(), out = area.getBoundingClientRect();
    const problems = [];
    if (box.width < 1 || box.height < 1) problems.push('not shown');
    if (box.left < out.left - 0.5 || box.right > out.right + 0.5)
        problems.push(`outside its output area (${box.left}-${box.right} in ` +
                      `${out.left}-${out.right})`);
    if (box.right > width + 0.5) problems.push(`past the window's width (${box.right} > ${width})`);
    if (el.scrollWidth > el.clientWidth)
        problems.push(`text cut (${el.scrollWidth} > ${el.clientWidth})`);
    return problems.join(', ');
}"""

#: the dropdown's chosen value has the room its text needs (inside the padding, which
#: holds the arrow)
VALUE_FITS = """el => {
    const style = getComputedStyle(el);
    const context = document.createElement('canvas').getContext('2d');
    context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const text = context.measureText(el.selectedOptions[0].text).width;
    const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return [el.value, text, room];
}"""


def _open_file_browser(page) -> None:
    tab = page.locator('.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="filebrowser"]')
    if "lm-mod-current" not in (tab.get_attribute("class") or ""):
        tab.click()
    expect(page.locator("#filebrowser")).to_be_visible()


@pytest.mark.parametrize("width", [900, 700])
def test_every_dashboard_control_fits_a_narrow_window(page, lab, width, screenshots):
    page.set_viewport_size({"width": width, "height": 900})
    cells = [THREAD_SETUP, JOBS, DASHBOARD]
    notebook = NotebookPage(page, lab, f"narrow-{width}.ipynb", cells)
    if width == 900:
        _open_file_browser(page)
    notebook.run_all(range(3))
    board = DashboardView(notebook.output(2))
    expect(board.row("running")).to_contain_text("running", timeout=30_000)
    expect(board.rows).to_have_count(2)
    area = notebook.output(2).element_handle()
    controls = {
        "status filter": board.status_filter,
        "page size": board.page_size,
        "interval": board.interval,
        "pause": board.pause,
        "newer": board.newer,
        "page label": board.page_label,
        "older": board.older,
    }
    for index in range(2):
        for action in ("cancel", "resubmit", "details"):
            controls[f"row {index + 1} {action}"] = board.row_button(board.rows.nth(index), action)
    problems = {}
    for name, control in controls.items():
        expect(control, f"{name} is not shown").to_be_visible()
        found = page.evaluate(FITS, [control.element_handle(), area, width])
        if found:
            problems[name] = found
    value, text, room = board.page_size.evaluate(VALUE_FITS)
    if value != "10" or text > room:
        problems["page size value"] = f"{value!r} needs {text:.0f} px, has {room:.0f} px"
    board.root.screenshot(path=screenshots / f"dashboard-{width}px.png")
    assert not problems, f"at {width} px: {problems}"
