"""``jobnb key``: make the secret key the kernels and workers of a Redis server share
(backends/secret_key.py), and say where it is and how to share it; never the key
itself, unless asked (``--show``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import defaults
from ..backends.secret_key import ENV_KEY, ENV_KEY_FILE, KEY_FILE, create_key_file, read_key_file


def add_to(commands) -> None:
    parser = commands.add_parser(
        "key",
        help="make the secret key that signs the jobs of a Redis server (if missing), "
        "and say how to share it",
        description="Make the secret key that signs the jobs of a Redis server, if it is "
        "missing, and say how to give it to every kernel and worker of that server. A "
        "SQLite home needs none of this: its key is made on first use.",
    )
    parser.add_argument(
        "--file",
        help=f"the key file (default: ./{defaults.HOME}/{KEY_FILE}, which jobnb reads "
        "when nothing else names a key)",
    )
    parser.add_argument(
        "--show", action="store_true", help="print the key itself too (keep it secret)"
    )
    parser.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    path = Path(args.file or Path(defaults.HOME) / KEY_FILE).absolute()
    made = create_key_file(path)
    read_key_file(path, f"Delete {path} and run `jobnb key` again.")  # usable: else it says
    print(f"jobnb key: {'made' if made else 'kept'} the secret key in {path} (mode 0600).")
    print(
        "Every kernel and worker of one Redis server must use this key: copy the file to "
        f"each machine (owner-only) and set {ENV_KEY_FILE}={path} there (or "
        f"secret_key_file in jobnb.toml), or `export {ENV_KEY}=$(cat {path})` in the "
        "environment of each kernel and worker (systemd: an EnvironmentFile= readable "
        "by that user only)."
    )
    if args.show:
        print(path.read_text().strip())
    return 0
