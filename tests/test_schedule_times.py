"""When schedules are due (jobnb/schedule_times.py): intervals, cron expressions in a
time zone across DST changes (never a run doubled or skipped), and what runs after
downtime under each catch-up policy."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from jobnb.exceptions import ConfigError
from jobnb.schedule_times import CATCHUP_MOST, Timing, interval_seconds, plan

BERLIN = ZoneInfo("Europe/Berlin")


def at(*fields: int, zone=BERLIN) -> float:
    return dt.datetime(*fields, tzinfo=zone).timestamp()


def wall(moment: float, zone=BERLIN) -> str:
    return dt.datetime.fromtimestamp(moment, zone).strftime("%m-%d %H:%M %Z")


@pytest.mark.parametrize(
    ("every", "seconds"),
    [
        ("2s", 2),
        ("15m", 900),
        ("15 min", 900),
        ("1h30m", 5400),
        ("1d", 86400),
        ("90", 90),
        (90, 90),
        (2.5, 2.5),
        (dt.timedelta(minutes=5), 300),
        ("1500ms", 1.5),
    ],
)
def test_an_interval_reads_as_people_write_it(every, seconds):
    assert interval_seconds(every) == seconds


@pytest.mark.parametrize("every", ["", "soon", "15x", "2s3", -5, 0, 0.5, True, None, "nan"])
def test_a_bad_interval_is_refused_naming_it(every):
    with pytest.raises(ConfigError, match=r"every=.* is not an interval"):
        interval_seconds(every)


@pytest.mark.parametrize("cron", ["bad", "0 6 * *", "61 * * * *", "*/5 * * * * *", 6])
def test_a_bad_cron_expression_is_refused_naming_it(cron):
    with pytest.raises(ConfigError, match="is not a cron expression of five fields"):
        Timing.parse(cron=cron, tz="UTC")


def test_exactly_one_of_cron_and_every():
    with pytest.raises(ConfigError, match="exactly one of cron="):
        Timing.parse()
    with pytest.raises(ConfigError, match="exactly one of cron="):
        Timing.parse(cron="0 6 * * *", every="1h")


def test_an_unknown_zone_is_refused_and_local_is_named():
    with pytest.raises(ConfigError, match="tz='Mars/Olympus' is not a time zone"):
        Timing.parse(every="1h", tz="Mars/Olympus")
    # local: this machine's zone by its IANA name, so a worker elsewhere reads it alike
    assert ZoneInfo(Timing.parse(every="1h").tz)


def test_an_interval_counts_from_its_start():
    timing = Timing.parse(every="2s", start=100.0)
    assert timing.next_after(50.0) == 100.0
    assert timing.next_after(100.0) == 102.0
    assert timing.next_after(101.999) == 102.0
    assert timing.due_in(100.0, 108.0) == [102.0, 104.0, 106.0, 108.0]
    assert timing.describe() == "every 2 s"
    assert Timing.parse(every="15m").describe() == "every 15 min"


def test_a_daily_cron_runs_at_its_wall_clock_time():
    timing = Timing.parse(cron="0 6 * * *", tz="Europe/Berlin")
    due = timing.next_after(at(2026, 7, 1, 7, 0))
    assert wall(due) == "07-02 06:00 CEST"
    assert timing.describe() == "cron '0 6 * * *' (Europe/Berlin)"


def test_a_due_time_in_the_skipped_hour_runs_once_when_the_clock_resumes():
    # 2026-03-29 in Berlin: 02:00 CET -> 03:00 CEST; 02:30 does not exist that day
    timing = Timing.parse(cron="30 2 * * *", tz="Europe/Berlin")
    runs = [wall(d) for d in timing.due_in(at(2026, 3, 27, 12, 0), at(2026, 3, 31, 12, 0))]
    assert runs == ["03-28 02:30 CET", "03-29 03:30 CEST", "03-30 02:30 CEST", "03-31 02:30 CEST"]


def test_a_due_time_in_the_repeated_hour_runs_once():
    # 2026-10-25 in Berlin: 03:00 CEST -> 02:00 CET; 02:30 happens twice that day
    timing = Timing.parse(cron="30 2 * * *", tz="Europe/Berlin")
    runs = [wall(d) for d in timing.due_in(at(2026, 10, 24, 12, 0), at(2026, 10, 27, 12, 0))]
    assert runs == ["10-25 02:30 CEST", "10-26 02:30 CET", "10-27 02:30 CET"]


def test_quarter_hours_across_both_changes_never_repeat_an_instant():
    timing = Timing.parse(cron="*/15 * * * *", tz="Europe/Berlin")
    for day in (3, 10):
        start = at(2026, day, 29 if day == 3 else 25, 0, 0)
        runs = timing.due_in(start, start + 6 * 3600)
        assert len(set(runs)) == len(runs) and runs == sorted(runs)
        assert all(b - a >= 15 * 60 for a, b in zip(runs, runs[1:], strict=False))


def test_an_interval_ignores_dst():
    timing = Timing.parse(every="1h", tz="Europe/Berlin", start=at(2026, 3, 29, 0, 0))
    runs = timing.due_in(at(2026, 3, 29, 0, 0), at(2026, 3, 29, 5, 0, zone=BERLIN))
    assert [b - a for a, b in zip(runs, runs[1:], strict=False)] == [3600.0] * (len(runs) - 1)
    assert len(runs) == 4  # 5 wall-clock hours, one of them skipped: 4 hours passed


@pytest.mark.parametrize(
    ("catchup", "expected"),
    [("one", [1040.0]), ("all", [1010.0, 1020.0, 1030.0, 1040.0]), ("none", [])],
)
def test_after_downtime_each_policy_runs_what_it_says(catchup, expected):
    timing = Timing.parse(every="10s", start=1000.0)
    # the workers were away from 1000 to 1047: four due times missed, the last 7 s ago
    assert plan(timing, last_due=1000.0, now=1047.0, catchup=catchup) == (expected, 1050.0)


def test_on_time_runs_under_every_policy():
    timing = Timing.parse(every="2s", start=1000.0)
    for catchup in ("one", "all", "none"):
        assert plan(timing, last_due=1000.0, now=1002.3, catchup=catchup) == ([1002.0], 1004.0)


def test_a_new_schedule_never_runs_for_the_past_and_all_is_bounded():
    timing = Timing.parse(every="1s", start=0.0)
    assert plan(timing, last_due=None, now=5000.5) == ([], 5001.0)
    runs, _ = plan(timing, last_due=0.0, now=10 * CATCHUP_MOST, catchup="all")
    assert len(runs) == CATCHUP_MOST and runs[-1] == 10 * CATCHUP_MOST


def test_a_bad_policy_is_refused():
    with pytest.raises(ConfigError, match="catchup='twice' is not a catch-up policy"):
        plan(Timing.parse(every="1s"), 0.0, 10.0, "twice")
