"""How the dashboard looks: its columns, and the one ``<style>`` it emits.

The table's columns are named once here (``COLUMNS``). The header and every row write
their cells as ``<span class="jobnb-c-<column>">`` inside one ``jobnb-cells`` grid, so
one grid template lines every row up with the header. The template narrows with the
dashboard's own width (a CSS container query, not the window's: JupyterLab's side
panels take part of the window): below ``MEDIUM_PX`` the submitted and worker columns
step aside, below ``NARROW_PX`` the id too; the details panel shows them all.

Plain strings and no ipywidgets; the styles are scoped under ``.jobnb-dashboard`` so
they touch nothing else on the page, and need no external asset.
"""

from __future__ import annotations

from dataclasses import dataclass

#: (column, header text, its width in the full grid), left to right
COLUMNS = (
    ("name", "name", "minmax(5em, 1.5fr)"),
    ("id", "id", "8em"),
    ("status", "status", "6.5em"),
    ("progress", "progress", "minmax(5.5em, 1fr)"),
    ("submitted", "submitted", "5.8em"),
    ("duration", "duration", "5.2em"),
    ("worker", "worker", "minmax(5em, 1fr)"),
)
#: the actions: three buttons of fixed width, so that they never shrink to "ca…"; in a
#: narrow table only their icons show (the word is their tooltip and accessible name)
ACTION_BUTTON_WIDTH = "6.2em"
ACTIONS_WIDTH = "19.4em"  # three buttons and their margins
COMPACT_BUTTON_WIDTH = "30px"  # (px: a compact button's own font size is 0)
COMPACT_ACTIONS_WIDTH = "106px"


@dataclass(frozen=True)
class Narrower:
    """Below ``width_px`` of table: these ``hidden`` columns step aside (the details
    panel shows them), the actions show as icons (``compact``), and they go to a line
    of their own under the cells (``stacked``)."""

    width_px: int
    hidden: tuple[str, ...]
    compact: bool = False
    stacked: bool = False


#: widest first; each where the cells left, at their least, and the actions still fit on
#: one line (at 900 px with JupyterLab's file browser open the table has 390-470 px)
NARROWER = (
    Narrower(860, ("submitted", "worker")),
    Narrower(700, ("submitted", "worker", "id")),
    Narrower(580, ("submitted", "worker", "id"), compact=True),
    Narrower(440, ("submitted", "worker", "id", "duration"), compact=True),
    Narrower(360, ("submitted", "worker", "id", "duration"), compact=True, stacked=True),
)

DETAILS_LOG_LINES = 40  # the tail of the log the details panel shows

# the class names a browser test (and a person's own CSS) can rely on
DASHBOARD = "jobnb-dashboard"
CONTROLS = "jobnb-controls"
TABLE = "jobnb-table"
HEADER = "jobnb-header"
ROW = "jobnb-row"
ROW_SELECTED = "jobnb-row-selected"
ACTIONS = "jobnb-actions"
ACTIONS_HEAD = "jobnb-actions-head"
ROW_CELLS = "jobnb-row-cells"  # the widget holding a row's (or the header's) cells
DETAILS = "jobnb-details"
CELLS = "jobnb-cells"
BAR = "jobnb-bar"


def template(hidden: tuple[str, ...] = ()) -> str:
    """The grid template of the cells, without the ``hidden`` columns."""
    return " ".join(width for name, _, width in COLUMNS if name not in hidden)


def _narrower(narrower: Narrower) -> str:
    """The rules of one container width: fewer columns, smaller or stacked actions."""
    board = f".{DASHBOARD}"
    rules = [
        f"{board} .{CELLS} {{ grid-template-columns: {template(narrower.hidden)}; }}",
        ", ".join(f"{board} .{CELLS} > .jobnb-c-{name}" for name in narrower.hidden)
        + " { display: none; }",
    ]
    if narrower.compact:  # (!important: over the widths the layouts set on the element)
        rules += [
            f"{board} .{ACTIONS}, {board} .{ACTIONS_HEAD} "
            f"{{ width: {COMPACT_ACTIONS_WIDTH} !important; }}",
            f"{board} .{ACTIONS} .jupyter-button {{ font-size: 0; "
            f"width: {COMPACT_BUTTON_WIDTH} !important; min-width: 0 !important; }}",
            f"{board} .{ACTIONS} .jupyter-button > i {{ font-size: 13px; margin: 0; }}",
        ]
    if narrower.stacked:
        rules += [
            f"{board} .{ROW} {{ flex-wrap: wrap; }}",
            f"{board} .{ROW} > .{ROW_CELLS} {{ flex: 1 1 100% !important; }}",
            f"{board} .{HEADER} > .{ACTIONS_HEAD} {{ display: none; }}",
        ]
    return (
        f"@container jobnb-table (max-width: {narrower.width_px}px) {{\n  "
        + "\n  ".join(rules)
        + "\n}"
    )


_NARROWER_RULES = "\n".join(_narrower(narrower) for narrower in NARROWER)

STYLE = f"""<style>
.{DASHBOARD} .{TABLE} {{ container: jobnb-table / inline-size; }}
.{DASHBOARD} .{CONTROLS} {{ gap: 4px 14px; align-items: center; }}
.{DASHBOARD} .{CONTROLS} > * {{ flex: 0 0 auto; }}
.{DASHBOARD} .{CELLS} {{
  display: grid; grid-template-columns: {template()};
  column-gap: 10px; align-items: center; line-height: 1.5;
}}
.{DASHBOARD} .{CELLS} > span {{
  overflow: hidden; text-overflow: ellipsis; white-space: nowrap; min-width: 0;
}}
.{DASHBOARD} .{HEADER} {{
  font-weight: 600; border-bottom: 2px solid var(--jp-border-color1, #bdbdbd);
  color: var(--jp-ui-font-color1, #212121);
}}
.{DASHBOARD} .{ROW} {{
  align-items: center; border-bottom: 1px solid var(--jp-border-color2, #e0e0e0);
}}
.{DASHBOARD} .{ROW}:hover {{ background: var(--jp-layout-color2, #f5f5f5); }}
.{DASHBOARD} .{HEADER} > :first-child, .{DASHBOARD} .{ROW} > :first-child {{
  padding-left: 6px;
}}
.{DASHBOARD} .{ROW}.{ROW_SELECTED} {{
  background: var(--jp-brand-color3, #e3f0fd); box-shadow: inset 4px 0 0 #0d6efd;
}}
.{DASHBOARD} .{ACTIONS} .jupyter-button {{
  height: 24px; padding: 0 4px; margin: 0 0 0 4px; overflow: visible;
}}
.{DASHBOARD} .{ACTIONS} .jupyter-button:disabled {{
  opacity: 0.35; cursor: not-allowed; background: transparent; box-shadow: none;
  border: 1px dashed var(--jp-border-color1, #bdbdbd); color: var(--jp-ui-font-color2, #757575);
}}
.{DASHBOARD} .{DETAILS} {{
  margin: 0 0 6px 0; padding: 6px 10px; background: var(--jp-layout-color1, white);
  border: 1px solid #0d6efd; border-left-width: 4px; border-radius: 0 0 4px 4px;
}}
.{DASHBOARD} .{DETAILS} > .widget-html-content {{ line-height: 1.5; }}
.{DASHBOARD} .{BAR} {{
  display: inline-block; vertical-align: middle; width: calc(100% - 3.4em); height: 8px;
  border-radius: 4px; background: var(--jp-layout-color3, #e9ecef); overflow: hidden;
}}
.{DASHBOARD} .{BAR} > span {{ display: block; height: 100%; }}
.{DASHBOARD} .jobnb-bar-text {{
  display: inline-block; width: 3em; text-align: right; font-size: 90%;
}}
{_NARROWER_RULES}
</style>"""
