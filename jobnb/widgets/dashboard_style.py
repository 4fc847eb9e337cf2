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

#: (column, header text, its width in the full grid), left to right
COLUMNS = (
    ("name", "name", "minmax(7em, 2fr)"),
    ("id", "id", "8em"),
    ("status", "status", "6.5em"),
    ("progress", "progress", "minmax(6.5em, 1fr)"),
    ("submitted", "submitted", "5.2em"),
    ("duration", "duration", "4.8em"),
    ("worker", "worker", "minmax(5em, 1fr)"),
)
#: the dashboard's width below which these columns step aside (the details show them)
MEDIUM_PX, HIDDEN_BELOW_MEDIUM = 800, ("submitted", "worker")
NARROW_PX, HIDDEN_BELOW_NARROW = 620, ("submitted", "worker", "id")

#: the actions column: three buttons of fixed width, so that they never shrink to "ca…"
ACTION_BUTTON_WIDTH = "5.6em"
ACTIONS_WIDTH = "17.6em"  # three buttons and their margins

DETAILS_LOG_LINES = 40  # the tail of the log the details panel shows

# the class names a browser test (and a person's own CSS) can rely on
DASHBOARD = "jobnb-dashboard"
CONTROLS = "jobnb-controls"
TABLE = "jobnb-table"
HEADER = "jobnb-header"
ROW = "jobnb-row"
ROW_SELECTED = "jobnb-row-selected"
ACTIONS = "jobnb-actions"
DETAILS = "jobnb-details"
CELLS = "jobnb-cells"
BAR = "jobnb-bar"


def template(hidden: tuple[str, ...] = ()) -> str:
    """The grid template of the cells, without the ``hidden`` columns."""
    return " ".join(width for name, _, width in COLUMNS if name not in hidden)


def _narrower(width_px: int, hidden: tuple[str, ...]) -> str:
    cells = ", ".join(f".{DASHBOARD} .{CELLS} > .jobnb-c-{name}" for name in hidden)
    return (
        f"@container jobnb-table (max-width: {width_px}px) {{"
        f" .{DASHBOARD} .{CELLS} {{ grid-template-columns: {template(hidden)}; }}"
        f" {cells} {{ display: none; }} }}"
    )


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
.{DASHBOARD} .{BAR} {{
  display: inline-block; vertical-align: middle; width: calc(100% - 3.4em); height: 8px;
  border-radius: 4px; background: var(--jp-layout-color3, #e9ecef); overflow: hidden;
}}
.{DASHBOARD} .{BAR} > span {{ display: block; height: 100%; }}
.{DASHBOARD} .jobnb-bar-text {{
  display: inline-block; width: 3em; text-align: right; font-size: 90%;
}}
{_narrower(MEDIUM_PX, HIDDEN_BELOW_MEDIUM)}
{_narrower(NARROW_PX, HIDDEN_BELOW_NARROW)}
</style>"""
