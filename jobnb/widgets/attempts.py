"""What the widgets show of a job's retries: ``attempt 2 of 4`` beside its status (and,
between two attempts, when the next starts), and its earlier attempts, each on a line
with how it ended (the last line of its error), short. Every text from a job is escaped.
"""

from __future__ import annotations

import html
import time

from ..model import JobRecord, JobStatus
from ..payload import last_line

#: characters of an earlier attempt's error shown on its line (the whole on hover)
ERROR_SHOWN = 120


def attempt_html(record: JobRecord) -> str:
    """``attempt 2 of 4`` (``, next at 12:03:04`` while it waits for it); "" for a job
    without retries."""
    text = record.attempt_text
    if not text:
        return ""
    if record.status is JobStatus.QUEUED and record.retry_at is not None:
        text += f", next at {time.strftime('%H:%M:%S', time.localtime(record.retry_at))}"
    return f'<span class="jobnb-attempt">{html.escape(text)}</span>'


def earlier_attempts_html(record: JobRecord) -> str:
    """One line per earlier attempt: its number, how it ended, where, and its error's
    last line; "" when it has none."""
    lines = []
    for attempt in record.attempts:
        why = last_line(attempt.error, attempt.status.value)
        short = why if len(why) <= ERROR_SHOWN else why[: ERROR_SHOWN - 3] + "..."
        where = f" on {attempt.worker}" if attempt.worker else ""
        lines.append(
            f'<div title="{html.escape(why)}">attempt {attempt.number} '
            f"{attempt.status.value}{html.escape(where)}: <code>{html.escape(short)}</code></div>"
        )
    return f'<div class="jobnb-attempts">{"".join(lines)}</div>' if lines else ""
