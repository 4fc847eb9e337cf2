"""The browser tests (a package, so that their conftest is ``browser.conftest`` and never
stands in for ``tests/conftest.py``, which the other test modules import helpers from)."""
