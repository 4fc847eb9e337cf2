"""Payloads and outcomes as they are stored: what an earlier jobnb wrote (a huey home
keeps its jobs across an upgrade) still runs, resubmits and reads back."""

from __future__ import annotations

import base64

from jobs_for_tests import KeptReport

from jobnb import JobStatus
from jobnb.payload import loads_outcome
from jobnb.worker import runner

# Written by jobnb before payloads had a class per kind (dumps_payload of
# Payload.call(operator.add, (2, 3)) and Payload.cell("c = a * 2", {"a": 21}, ("c",))),
# and before outcomes had a header (dumps_outcome of a cell's finished outcome, c=42).
STORED_CALL = (
    "gAWV4AAAAAAAAACMDWpvYm5iLnBheWxvYWSUjAdQYXlsb2FklJOUKYGUfZQojARraW5klIwEY2FsbJSMAmZu"
    "lIwJX29wZXJhdG9ylIwDYWRklJOUjARhcmdzlEsCSwOGlIwGa3dhcmdzlH2UjAZzb3VyY2WUTowGaW5wdXRz"
    "lH2UjAdvdXRwdXRzlCmMBmpvYl9pZJROjAhub3RlYm9va5ROjARwYXRolE6MBm91dHB1dJROjAtrZXJuZWxf"
    "bmFtZZROjANjd2SUTowKcGFyYW1ldGVyc5R9lIwLaW5qZWN0ZWRfYXSUTnViLg=="
)
STORED_CELL = (
    "gAWV3wAAAAAAAACMDWpvYm5iLnBheWxvYWSUjAdQYXlsb2FklJOUKYGUfZQojARraW5klIwEY2VsbJSMAmZu"
    "lE6MBGFyZ3OUKYwGa3dhcmdzlH2UjAZzb3VyY2WUjAljID0gYSAqIDKUjAZpbnB1dHOUfZSMAWGUSxVzjAdv"
    "dXRwdXRzlIwBY5SFlIwGam9iX2lklE6MCG5vdGVib29rlE6MBHBhdGiUTowGb3V0cHV0lE6MC2tlcm5lbF9u"
    "YW1llE6MA2N3ZJROjApwYXJhbWV0ZXJzlH2UjAtpbmplY3RlZF9hdJROdWIu"
)
STORED_OUTCOME = "gAWVGwAAAAAAAAAojAhmaW5pc2hlZJR9lIwBY5RLKnNOTil0lC4="


def test_payloads_stored_by_an_earlier_jobnb_still_run():
    call = runner.run(base64.b64decode(STORED_CALL), KeptReport())
    assert (call.status, call.value) == (JobStatus.FINISHED, 5)
    cell = runner.run(base64.b64decode(STORED_CELL), KeptReport())
    assert (cell.status, cell.value) == (JobStatus.FINISHED, {"c": 42})


def test_an_outcome_stored_by_an_earlier_jobnb_still_reads():
    outcome = loads_outcome(base64.b64decode(STORED_OUTCOME))
    assert (outcome.status, outcome.value, outcome.error) == (JobStatus.FINISHED, {"c": 42}, None)
