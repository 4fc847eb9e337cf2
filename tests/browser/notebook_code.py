"""The code the browser tests' notebooks run, as cell sources."""

from __future__ import annotations

#: the first cell of most test notebooks: the thread backend (the fastest to start), and
#: the jobs the tests submit; the monitor's 0.5 s interval is jobnb's default
THREAD_SETUP = """\
import time
import jobnb
%load_ext jobnb
_ = jobnb.configure("thread", workers=8)


def spin(seconds):
    for _ in range(int(seconds * 10)):
        time.sleep(0.1)


def fit(step):
    for i in range(3):
        jobnb.progress(i + 1, 3, f"epoch {i + 1}")
        print(f"fit {step}: epoch {i + 1}")
        time.sleep(0.1)
    return {"step": step, "score": 0.9}


def boom(step):
    print(f"about to fail {step}")
    raise ValueError(f"bad input {step}")
"""

#: a dashboard refreshed every 0.5 s, as the cell's value
DASHBOARD = "board = jobnb.dashboard(page_size=10, interval=0.5)\nboard"
