"""Where a user finds things in a job widget and in the dashboard, as page locators
(the CSS classes the widgets set, and the controls' own labels)."""

from __future__ import annotations

import re

from playwright.sync_api import Locator


class JobView:
    """A job's display in ``scope``, found by the job's name: its live widget
    (``.jobnb-job``) while it can change, the plain HTML of its final state
    (``.jobnb-job-saved``) once it has ended."""

    def __init__(self, scope: Locator, name: str | None = None) -> None:
        jobs = scope.locator(".jobnb-job, .jobnb-job-saved")
        self.root = jobs.filter(has_text=name).first if name else jobs.first

    @property
    def header(self) -> Locator:
        # name, id, backend, badge, time: the first part of either form
        return self.root.locator(":scope > div").first

    @property
    def is_live(self) -> bool:
        return "jobnb-job-saved" not in (self.root.get_attribute("class") or "")

    @property
    def log(self) -> Locator:
        return self.root.locator("pre").first

    @property
    def cancel(self) -> Locator:
        return self.root.get_by_role("button", name="Cancel")


class DashboardView:
    """The dashboard (``.jobnb-dashboard``) in ``scope``."""

    def __init__(self, scope: Locator) -> None:
        self.root = scope.locator(".jobnb-dashboard").first
        self.controls = self.root.locator(".jobnb-controls")

    @property
    def status_filter(self) -> Locator:
        return self.controls.locator(".widget-dropdown", has_text="status").locator("select")

    @property
    def page_size(self) -> Locator:
        return self.controls.locator(".widget-dropdown", has_text="rows").locator("select")

    @property
    def interval(self) -> Locator:
        return self.controls.locator("input")

    @property
    def pause(self) -> Locator:
        return self.controls.locator("button", has_text=" pause").or_(
            self.controls.locator("button", has_text="resume")
        )

    @property
    def newer(self) -> Locator:
        return self.controls.get_by_role("button", name="newer")

    @property
    def older(self) -> Locator:
        return self.controls.get_by_role("button", name="older")

    @property
    def page_label(self) -> Locator:
        return self.controls.locator(".widget-label", has_text="page ")

    @property
    def rows(self) -> Locator:
        return self.root.locator(".jobnb-row")

    def row(self, name: str) -> Locator:
        """The row of the job called ``name`` (its name cell, exactly)."""
        return self.rows.filter(
            has=self.root.page.locator(
                ".jobnb-c-name b", has_text=re.compile(f"^{re.escape(name)}$")
            )
        ).first

    def row_button(self, row: Locator, action: str) -> Locator:
        """``cancel``, ``resubmit``, ``details`` (or ``close``) of ``row``."""
        return row.locator(".jobnb-actions button", has_text=action)

    @property
    def details(self) -> Locator:
        return self.root.locator(".jobnb-details")
