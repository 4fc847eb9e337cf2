"""Driving a real Jupyter kernel from a test (jupyter_client), as a frontend does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from jupyter_client.manager import start_new_kernel

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def kernel_in(folder: Path) -> Iterator:
    """A fresh python3 kernel working in ``folder``: its client, then shut down."""
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(folder))
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def run(client, code: str, timeout: float = 60) -> list[dict]:
    """Execute ``code``; return every iopub message until the kernel is idle again."""
    messages, reply = until_idle(client, client.execute(code), timeout)
    assert reply["content"]["status"] == "ok", reply["content"]
    return messages


def until_idle(client, msg_id: str, timeout: float = 60) -> tuple[list[dict], dict]:
    """Every iopub message of the request ``msg_id`` until the kernel is idle again, and
    the request's reply."""
    messages = []
    while True:
        msg = client.get_iopub_msg(timeout=timeout)
        messages.append(msg)
        if (
            msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
            and msg["parent_header"].get("msg_id") == msg_id
        ):
            return messages, client.get_shell_msg(timeout=timeout)
