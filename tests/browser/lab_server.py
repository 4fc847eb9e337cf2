"""A real JupyterLab server for the browser tests and the browser benchmark: on a free
loopback port with a random token, its own jobnb home, settings, workspaces and
runtime folders (nothing of the machine's Lab is read or written), and quiet: no news,
no update check, no terminals.

``LabServer(scratch).start()`` returns once the server answers; ``stop()`` shuts down
every kernel, then the server, then the huey worker its kernels started.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]  # the jobnb the kernels must import
START_TIMEOUT = 120.0  # a cold Lab on a loaded 2-core machine takes 10-30 s

#: user settings the Lab reads from its own settings folder
SETTINGS = {
    # no "Would you like to get notified about official Jupyter news?" toast
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    # every cell in the DOM: a windowed notebook leaves cells out of view unrendered
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    def __init__(self, scratch: Path) -> None:
        self.scratch = Path(scratch)
        self.root = self.scratch / "notebooks"  # the server's root: the notebooks go here
        self.jobnb_home = self.scratch / "jobnb-home"
        self.runtime_dir = self.scratch / "runtime"  # kernels' connection files
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.process: subprocess.Popen | None = None
        self.log_path = self.scratch / "lab.log"

    # --- starting and stopping ------------------------------------------------------------
    def start(self) -> LabServer:
        for folder in (self.root, self.runtime_dir):
            folder.mkdir(parents=True, exist_ok=True)
        settings = self.scratch / "settings"
        for name, values in SETTINGS.items():
            path = settings / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter",
                "lab",
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--port={self.port}",
                "--port-retries=0",
                f"--ServerApp.token={self.token}",
                "--allow-root",
                f"--ServerApp.root_dir={self.root}",
                "--ServerApp.terminals_enabled=False",
                "--LabApp.news_url=",
                "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements."
                "NeverCheckForUpdate",
            ],
            cwd=self.root,
            env=self._environment(settings),
            stdout=open(self.log_path, "ab"),  # noqa: SIM115 - the server's, till it ends
            stderr=subprocess.STDOUT,
        )
        self._wait_until_ready()
        return self

    def _environment(self, settings: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOBNB_")}
        env["JOBNB_SECRET_KEY"] = os.environ.get("JOBNB_SECRET_KEY", secrets.token_hex(32))
        env["JOBNB_HOME"] = str(self.jobnb_home)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        env["JUPYTER_CONFIG_DIR"] = str(self.scratch / "config")
        env["JUPYTER_RUNTIME_DIR"] = str(self.runtime_dir)
        env["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
        env["JUPYTERLAB_WORKSPACES_DIR"] = str(self.scratch / "workspaces")
        return env

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited ({self.process.returncode}): {self.log()}")
            try:
                self.api("GET", "/api/status")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.25)
        raise RuntimeError(f"JupyterLab did not answer in {START_TIMEOUT} s: {self.log()}")

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            self.shutdown_kernels()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            from jobnb.backends.huey_worker import stop_worker

            stop_worker(self.jobnb_home, grace=0)  # the default backend's, if one started

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    # --- the REST API ---------------------------------------------------------------------
    def api(self, method: str, path: str) -> object:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def kernels(self) -> list[dict]:
        return self.api("GET", "/api/kernels")

    def shutdown_kernels(self) -> None:
        """Close every session and stop every kernel (a test's notebooks are done)."""
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")
        for kernel in self.kernels():
            self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def connection_file(self, kernel_id: str) -> Path:
        """Where a kernel's connection info is (for a jupyter_client of our own)."""
        return self.runtime_dir / f"kernel-{kernel_id}.json"

    # --- notebooks ------------------------------------------------------------------------
    def write_notebook(self, name: str, cells: list[str]) -> str:
        """A notebook of code cells ``cells`` in the server's root; its URL path."""
        notebook = nbformat.v4.new_notebook()
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
        }
        notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
        nbformat.write(notebook, self.root / name)
        # a workspace of its own: the default one would reopen, on a reload, every
        # notebook the tests opened before (and start their kernels)
        return self.url(f"/lab/workspaces/{Path(name).stem}/tree/{name}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}?token={self.token}"
