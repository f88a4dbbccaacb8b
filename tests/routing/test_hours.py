"""Business hours: weekly schedules in a time zone, holidays, daylight-saving days, and the
properties next_open / next_close / open_ms_between must keep on random schedules."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from chatkit.errors import ConfigError
from chatkit.routing import BusinessHours, first_open, load_hours

MINUTE, HOUR, DAY = 60_000, 3_600_000, 86_400_000
MADRID, NEW_YORK = "Europe/Madrid", "America/New_York"


def at(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, *,
       fold: int = 0) -> int:
    """Milliseconds since the epoch of a wall-clock time in `zone`."""
    moment = datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone), fold=fold)
    return int(moment.timestamp()) * 1000


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return at("UTC", year, month, day, hour, minute)


def hours(zone: str, weekly: dict[str, Any] | None = None, **more: Any) -> BusinessHours:
    return BusinessHours.model_validate({"time_zone": zone, "weekly": weekly or {}, **more})


EXAMPLE = {"time_zone": MADRID,
           "weekly": {"mon": [["09:00", "18:00"]], "sat": [["10:00", "14:00"]],
                      "fri": [["22:00", "02:00"]]},
           "holidays": ["2026-12-25", {"date": "2026-12-24", "hours": [["09:00", "13:00"]]}]}


# -- fixed cases ------------------------------------------------------------------------------

def test_the_example_schedule() -> None:
    example = BusinessHours.model_validate(EXAMPLE)
    # Monday 2026-09-14
    assert not example.is_open(at(MADRID, 2026, 9, 14, 8, 59))
    assert example.is_open(at(MADRID, 2026, 9, 14, 9, 0))
    assert example.is_open(at(MADRID, 2026, 9, 14, 17, 59))
    assert not example.is_open(at(MADRID, 2026, 9, 14, 18, 0))
    assert example.next_open(at(MADRID, 2026, 9, 14, 18, 0)) == at(MADRID, 2026, 9, 18, 22, 0)
    assert example.next_close(at(MADRID, 2026, 9, 14, 12, 0)) == at(MADRID, 2026, 9, 14, 18, 0)
    # Friday night runs into Saturday morning; Saturday has its own hours too.
    assert example.is_open(at(MADRID, 2026, 9, 19, 1, 59))
    assert not example.is_open(at(MADRID, 2026, 9, 19, 2, 0))
    assert example.open_ms_between(at(MADRID, 2026, 9, 14), at(MADRID, 2026, 9, 21)) == (
        (9 + 4 + 4) * HOUR)


def test_holidays_closed_and_with_their_own_hours() -> None:
    example = BusinessHours.model_validate(EXAMPLE)
    # Thursday 2026-12-24 (usually closed) opens 09:00-13:00; Friday the 25th is closed, so
    # no Friday-night shift that week.
    assert example.is_open(at(MADRID, 2026, 12, 24, 12, 0))
    assert not example.is_open(at(MADRID, 2026, 12, 24, 13, 0))
    assert not example.is_open(at(MADRID, 2026, 12, 25, 23, 0))
    assert example.next_open(at(MADRID, 2026, 12, 24, 13, 0)) == at(MADRID, 2026, 12, 26, 10)
    assert example.open_ms_between(at(MADRID, 2026, 12, 21), at(MADRID, 2026, 12, 28)) == (
        (9 + 4 + 4) * HOUR)


def test_an_overnight_interval_runs_into_a_holiday() -> None:
    team = hours(MADRID, {"thu": [["22:00", "02:00"]], "fri": [["09:00", "17:00"]]},
                 holidays=[{"date": "2026-12-25", "name": "Christmas"}])
    assert team.is_open(at(MADRID, 2026, 12, 25, 1, 0))   # Thursday's shift, to its end
    assert not team.is_open(at(MADRID, 2026, 12, 25, 10, 0))
    assert team.intervals_on(date(2026, 12, 25)) == ()
    assert team.next_close(at(MADRID, 2026, 12, 24, 23, 0)) == at(MADRID, 2026, 12, 25, 2)


@pytest.mark.parametrize(("zone", "spring", "autumn"), [
    (MADRID, (2026, 3, 29), (2026, 10, 25)),     # 02:00 -> 03:00, 03:00 -> 02:00 (Sundays)
    (NEW_YORK, (2026, 3, 8), (2026, 11, 1)),     # 02:00 -> 03:00, 02:00 -> 01:00
])
def test_daylight_saving_days(zone: str, spring: tuple[int, int, int],
                              autumn: tuple[int, int, int]) -> None:
    sunday = hours(zone, {"sun": [["01:30", "03:30"]]})
    assert sunday.open_ms_between(at(zone, *spring), at(zone, *spring) + DAY) == HOUR
    assert sunday.open_ms_between(at(zone, *autumn), at(zone, *autumn) + DAY) == 3 * HOUR
    ordinary = (2026, 6, 7)
    assert sunday.open_ms_between(at(zone, *ordinary), at(zone, *ordinary) + DAY) == 2 * HOUR

    assert hours(zone, {"sun": [["01:00", "03:00"]]}).open_ms_between(
        at(zone, *autumn), at(zone, *autumn) + DAY) == 3 * HOUR

    # 02:30 does not exist on the spring day: it opens at the change, and a whole interval
    # inside the gap never opens that day.
    late = hours(zone, {"sun": [["02:30", "05:00"]]})
    change = at(zone, *spring, 3, 0)  # the first instant after the gap
    assert late.next_open(at(zone, *spring)) == change
    assert late.open_ms_between(at(zone, *spring), at(zone, *spring, 12)) == 2 * HOUR
    gap = hours(zone, {"sun": [["02:15", "02:45"]]})
    week_later = date(*spring) + timedelta(days=7)
    assert gap.next_open(at(zone, *spring)) == at(
        zone, week_later.year, week_later.month, week_later.day, 2, 15)
    assert not gap.is_open(change)

    # On the autumn day a repeated time is its first occurrence.
    repeated = {MADRID: "02:30", NEW_YORK: "01:30"}[zone]
    clock = int(repeated[:2]), int(repeated[3:])
    twice = hours(zone, {"sun": [[repeated, "04:00"]]})
    first = at(zone, *autumn, *clock, fold=0)
    assert first + HOUR == at(zone, *autumn, *clock, fold=1)
    assert twice.next_open(at(zone, *autumn)) == first
    assert twice.is_open(first + HOUR)
    assert twice.open_ms_between(first - HOUR, first + 5 * HOUR) == (
        at(zone, *autumn, 4) - first)


def test_clocks_going_back_across_midnight() -> None:
    # In Santiago, Saturday 2026-04-04 24:00 -03 is 23:00 -04: the last hour of Saturday repeats.
    zone = "America/Santiago"
    team = hours(zone, {"sat": [["22:00", "24:00"]], "sun": [["00:00", "01:00"]]})
    assert team.next_open(utc(2026, 4, 4, 12)) == utc(2026, 4, 5, 1)   # 22:00 -03
    assert team.is_open(utc(2026, 4, 5, 3, 30))                        # 23:30 -04, again
    assert team.next_close(utc(2026, 4, 5, 2)) == utc(2026, 4, 5, 5)   # Sunday 01:00 -04
    assert team.open_ms_between(utc(2026, 4, 4), utc(2026, 4, 6)) == 4 * HOUR


def test_intervals_that_touch_are_one_stretch() -> None:
    team = hours(NEW_YORK, {"mon": [["09:00", "12:00"], ["12:00", "24:00"]],
                            "tue": [["00:00", "06:00"]], "sun": [["20:00", "09:00"]]})
    monday = (2026, 9, 14)
    assert team.next_close(at(NEW_YORK, *monday, 10)) == at(NEW_YORK, 2026, 9, 15, 6)
    assert team.next_close(at(NEW_YORK, 2026, 9, 13, 21)) == at(NEW_YORK, 2026, 9, 15, 6)
    assert team.next_open(at(NEW_YORK, 2026, 9, 15, 6)) == at(NEW_YORK, 2026, 9, 20, 20)


def test_open_all_week() -> None:
    always = hours("UTC", always=True)
    start = utc(2026, 1, 1)
    assert always.is_open(start)
    assert always.next_open(start) == start
    assert always.next_close(start) is None
    assert always.open_ms_between(start, start + 90 * DAY) == 90 * DAY
    # The same, spelled out day by day, in a zone with daylight saving.
    spelled = hours(MADRID, {day: [["00:00", "24:00"]]
                             for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    assert spelled.next_close(start) is None
    assert spelled.open_ms_between(start, start + 365 * DAY) == 365 * DAY
    # Holidays still apply.
    closed = hours(MADRID, always=True, holidays=["2026-12-25"])
    assert closed.next_close(start) == at(MADRID, 2026, 12, 25)
    assert closed.next_open(at(MADRID, 2026, 12, 25, 9)) == at(MADRID, 2026, 12, 26)
    assert closed.next_close(at(MADRID, 2026, 12, 26)) is None


def test_never_open() -> None:
    empty = hours(MADRID)
    start = utc(2026, 1, 1)
    assert not empty.is_open(start)
    assert empty.next_open(start) is None
    assert empty.next_close(start) == start
    assert empty.open_ms_between(start, start + 365 * DAY) == 0
    # Open only on one holiday: before it, that is the next opening; after it, never.
    once = hours(MADRID, holidays=[{"date": "2026-12-24", "hours": [["09:00", "13:00"]]}])
    assert once.next_open(start) == at(MADRID, 2026, 12, 24, 9)
    assert once.next_open(at(MADRID, 2026, 12, 24, 13)) is None


def test_a_year_of_office_hours_counts_every_weekday() -> None:
    office = hours(NEW_YORK, {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu",
                                                                    "fri")},
                   holidays=["2026-01-01", "2026-12-25",
                             {"date": "2026-12-24", "hours": [["09:00", "12:00"]]}])
    weekdays = sum(1 for n in range(365) if (date(2026, 1, 1) + timedelta(n)).weekday() < 5)
    expected = (weekdays - 3) * 8 * HOUR + 3 * HOUR
    assert office.open_ms_between(at(NEW_YORK, 2026, 1, 1), at(NEW_YORK, 2027, 1, 1)) == expected
    with pytest.raises(ValueError, match="before it starts"):
        office.open_ms_between(2, 1)


def test_follow_the_sun() -> None:
    madrid = hours(MADRID, {"mon": [["09:00", "18:00"]]})
    new_york = hours(NEW_YORK, {"mon": [["09:00", "18:00"]]})
    teams = [("madrid", madrid), ("new-york", new_york)]
    assert first_open(teams, at(MADRID, 2026, 9, 14, 10)) == "madrid"
    assert first_open(teams, at(MADRID, 2026, 9, 14, 16)) == "madrid"      # both open
    assert first_open(teams[::-1], at(MADRID, 2026, 9, 14, 16)) == "new-york"
    assert first_open(teams, at(MADRID, 2026, 9, 14, 20)) == "new-york"
    assert first_open(teams, at(MADRID, 2026, 9, 15, 3)) is None
    assert first_open([], 0) is None


def test_round_trip() -> None:
    example = BusinessHours.model_validate(EXAMPLE)
    assert BusinessHours.model_validate(example.model_dump()) == example
    assert BusinessHours.model_validate_json(example.model_dump_json()) == example
    assert example.model_dump()["weekly"]["fri"] == (["22:00", "02:00"],)
    until_midnight = hours("UTC", {"mon": [["20:00", "00:00"]]})
    assert until_midnight.model_dump()["weekly"]["mon"] == (["20:00", "24:00"],)


# -- loading and errors -----------------------------------------------------------------------

def test_load_from_yaml() -> None:
    text = textwrap.dedent("""\
        time_zone: Europe/Madrid
        weekly:
          mon: [["09:00", "14:00"], ["15:00", "18:00"]]
          fri: [["22:00", "02:00"]]
        holidays:
          - 2026-12-25
          - {date: 2026-12-24, hours: [["09:00", "13:00"]], name: Christmas Eve}
        """)
    loaded = load_hours(yaml.safe_load(text), source="teams.yaml")
    assert loaded.holidays[1].name == "Christmas Eve"
    assert loaded.intervals_on(date(2026, 12, 24))[0].start == 9 * 60
    assert loaded.is_open(at(MADRID, 2026, 9, 14, 15, 30))
    assert not loaded.is_open(at(MADRID, 2026, 9, 14, 14, 30))


@pytest.mark.parametrize(("spec", "message"), [
    ({"weekly": {"mon": [["09:00", "13:00"], ["12:00", "18:00"]]}},
     "teams.yaml: weekly: mon 09:00-13:00 overlaps mon 12:00-18:00"),
    ({"weekly": {"fri": [["22:00", "02:00"]], "sat": [["01:00", "05:00"]]}},
     "weekly: fri 22:00-02:00 overlaps sat 01:00-05:00"),
    ({"weekly": {"sun": [["22:00", "02:00"]], "mon": [["00:00", "05:00"]]}},
     "weekly: sun 22:00-02:00 overlaps mon 00:00-05:00"),
    ({"weekly": {"mon": [["09:00", "09:00"]]}},
     'weekly.mon[0]: 09:00-09:00 is empty (to be open all day, write ["00:00", "24:00"])'),
    ({"weekly": {"monday": [["09:00", "18:00"]]}},
     "weekly: unknown day 'monday': the days are mon, tue, wed, thu, fri, sat, sun"),
    ({"weekly": {"mon": [["9:00", "18:00"]]}}, "weekly.mon[0]: bad time '9:00'"),
    ({"weekly": {"mon": [["09:00", "25:00"]]}}, "weekly.mon[0]: bad time '25:00'"),
    ({"weekly": {"mon": [["09:00", "12:60"]]}}, "bad time '12:60'"),
    ({"weekly": {"mon": [["24:00", "06:00"]]}}, '"24:00" can only end an interval'),
    ({"weekly": {"mon": [["09:00"]]}}, "weekly.mon[0]: an interval is a pair of times"),
    ({"weekly": {"mon": [["09:00", 1080]]}},
     'weekly.mon[0]: got the number 1080: write times as quoted strings, "18:00"'),
    ({"time_zone": "Europe/Madird"}, "time_zone: unknown time zone 'Europe/Madird'"),
    ({"time_zone": "../etc/passwd"}, "time_zone: unknown time zone"),
    ({"holidays": ["2026-12-25", {"date": "2026-12-25", "hours": [["09:00", "13:00"]]}]},
     "holidays: [1]: 2026-12-25 is already a holiday (holidays[0])"),
    ({"holidays": ["2026-13-01"]}, "holidays[0].date:"),
    ({"weekly": {"thu": [["22:00", "02:00"]]},
      "holidays": [{"date": "2026-12-25", "hours": [["00:00", "13:00"]]}]},
     "holidays: [0]: 2026-12-24 22:00-02:00 overlaps 2026-12-25 00:00-13:00"),
    ({"holidays": [{"date": "2026-12-25", "hours": [["09:00", "13:00"], ["12:00", "14:00"]]}]},
     "holidays[0].hours: 09:00-13:00 overlaps 12:00-14:00"),
    ({"always": True, "weekly": {"mon": [["09:00", "18:00"]]}}, "weekly: always: true is open"),
    ({"weekly": {}, "open": True}, "open: Extra inputs are not permitted"),
])
def test_errors_name_the_source_and_the_field(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_hours({"time_zone": MADRID, **spec}, source="teams.yaml")
    assert raised.value.message.startswith("teams.yaml: ")
    assert message in raised.value.message


def test_a_system_without_time_zone_data_is_told_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chatkit.routing.hours.available_timezones", set)
    with pytest.raises(ConfigError, match="no time zone data; pip install tzdata"):
        load_hours({"time_zone": "Nowhere/Special"}, source="teams.yaml")


def test_unquoted_yaml_times_are_explained() -> None:
    # YAML 1.1 reads 18:00 as 18 * 60 + 0 (base 60); 09:00 stays a string.
    raw = yaml.safe_load('time_zone: UTC\nweekly: {mon: [[09:00, 18:00]]}')
    assert raw["weekly"]["mon"] == [["09:00", 1080]]
    with pytest.raises(ConfigError, match='"18:00" \\(YAML reads an unquoted 18:00 as a number'):
        load_hours(raw, source="teams.yaml")


def test_embedding_in_another_model() -> None:
    from pydantic import BaseModel

    class Team(BaseModel):
        name: str
        hours: BusinessHours

    team = Team.model_validate({"name": "billing", "hours": EXAMPLE})
    assert team.hours == BusinessHours.model_validate(EXAMPLE)
    with pytest.raises(ValidationError) as raised:
        Team.model_validate({"name": "x", "hours": {"time_zone": "UTC",
                                                    "weekly": {"tue": [["10:00", "xx"]]}}})
    assert raised.value.errors()[0]["loc"] == ("hours", "weekly", "tue", 0)


# -- properties -------------------------------------------------------------------------------

ZONES = [MADRID, NEW_YORK, "America/Santiago", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK = 7 * 24 * 60


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def pieces(start: int, stop: int) -> list[tuple[int, int, int]]:
    """[start, stop) in minutes of a week (stop may pass its end) as (day, start, end) pieces
    of at most a day: one crossing midnight where it fits, else cut at midnights."""
    if stop - start < 24 * 60:
        return [(start // 1440 % 7, start % 1440, (stop - start // 1440 * 1440) % 1440 or 1440)]
    midnight = (start // 1440 + 1) * 1440
    return [(start // 1440 % 7, start % 1440, 1440), *pieces(midnight, stop)]


@st.composite
def schedules(draw: st.DrawFn) -> dict[str, Any]:
    """A valid spec: non-overlapping weekly intervals (some overnight, some touching) and a few
    holidays in 2026, closed or with hours."""
    zone = draw(st.sampled_from(ZONES))
    if draw(st.integers(0, 9)) == 0:
        spec: dict[str, Any] = {"time_zone": zone, "always": True}
    else:
        # Sorted boundaries over a week (an interval may run into next Monday), paired up;
        # a step of 15 minutes makes touching intervals and DST-gap edges likely.
        points = sorted(draw(st.sets(st.integers(0, (WEEK + 1440) // 15), max_size=10)))
        weekly: dict[str, list[list[str]]] = {}
        for start, stop in zip(points[::2], points[1::2], strict=False):
            for day, begin, end in pieces(start * 15, stop * 15):
                weekly.setdefault(DAYS[day], []).append([clock(begin), clock(end)])
        spec = {"time_zone": zone, "weekly": weekly}
    holidays: list[Any] = []
    for day in draw(st.sets(st.integers(0, 364), max_size=3)):
        when = (date(2026, 1, 1) + timedelta(days=day)).isoformat()
        bounds = sorted(draw(st.sets(st.integers(0, 96), max_size=4)))
        hours = [[clock(a * 15), clock(b * 15)] for a, b in zip(bounds[::2], bounds[1::2],
                                                                   strict=False)]
        holidays.append({"date": when, "hours": hours} if hours else when)
    spec["holidays"] = holidays
    return spec


def build(spec: dict[str, Any]) -> BusinessHours:
    try:
        return BusinessHours.model_validate(spec)
    except ValidationError:
        # Rare: the Sunday-into-Monday wrap, or a holiday against its neighbours' hours.
        assume(False)
        raise


@cache
def transitions(zone: str) -> list[int]:
    """The instants in 2026 when the zone's clocks change."""
    found, tz, step = [], ZoneInfo(zone), timedelta(minutes=15)
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    before = moment.astimezone(tz).utcoffset()
    while moment.year == 2026:
        moment += step
        offset = moment.astimezone(tz).utcoffset()
        if offset != before:
            found.append(int(moment.timestamp()) * 1000)
        before = offset
    return found or [utc(2026, 6, 1)]


@st.composite
def moments(draw: st.DrawFn, zone: str, precision: int = 1) -> int:
    """An instant in 2026: often within days of a clock change, or hours of a local midnight
    (where overnight intervals end)."""
    kind = draw(st.sampled_from(["change", "midnight", "any"]))
    if kind == "change":
        base = draw(st.sampled_from(transitions(zone)))
        offset = draw(st.integers(-3 * DAY, 3 * DAY))
    elif kind == "midnight":
        day = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 364)))
        base = at(zone, day.year, day.month, day.day)
        offset = draw(st.integers(-4 * HOUR, 4 * HOUR))
    else:
        base, offset = utc(2026, 1, 1), draw(st.integers(0, 364 * DAY))
    return (base + offset) // precision * precision


PROPERTY = settings(deadline=None, max_examples=150,
                    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


@PROPERTY
@given(st.data())
def test_next_open_is_the_first_open_moment(data: st.DataObject) -> None:
    spec = data.draw(schedules())
    team, t = build(spec), data.draw(moments(spec["time_zone"]))
    opens = team.next_open(t)
    if opens is None:
        assert team.open_ms_between(t, t + 60 * DAY) == 0
        return
    assert opens >= t
    assert team.is_open(opens)
    assert (opens == t) == team.is_open(t)
    assert team.open_ms_between(t, opens) == 0


@PROPERTY
@given(st.data())
def test_next_close_is_the_first_closed_moment(data: st.DataObject) -> None:
    spec = data.draw(schedules())
    team, t = build(spec), data.draw(moments(spec["time_zone"]))
    closes = team.next_close(t)
    if closes is None:
        assert team.open_ms_between(t, t + 60 * DAY) == 60 * DAY
        return
    assert closes >= t
    assert not team.is_open(closes)
    assert (closes == t) == (not team.is_open(t))
    assert team.open_ms_between(t, closes) == closes - t


@settings(deadline=None, max_examples=60,
          suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(st.data())
def test_open_ms_between_counts_like_a_minute_by_minute_check(data: st.DataObject) -> None:
    spec = data.draw(schedules())
    team = build(spec)
    start = data.draw(moments(spec["time_zone"], precision=MINUTE))
    minutes = data.draw(st.integers(0, 36 * 60))
    counted = sum(MINUTE for n in range(minutes) if team.is_open(start + n * MINUTE))
    assert team.open_ms_between(start, start + minutes * MINUTE) == counted


@PROPERTY
@given(st.data())
def test_open_ms_between_adds_up(data: st.DataObject) -> None:
    spec = data.draw(schedules())
    team = build(spec)
    a, b, c = sorted(data.draw(moments(spec["time_zone"])) for _ in range(3))
    whole = team.open_ms_between(a, c)
    assert team.open_ms_between(a, b) + team.open_ms_between(b, c) == whole
    assert 0 <= whole <= c - a


def naive_is_open(spec: dict[str, Any], t: int) -> bool:
    """Open at `t` by reading the spec against the local clock, as a person would (wrong only
    near a clock change)."""
    wall = datetime.fromtimestamp(t / 1000, ZoneInfo(spec["time_zone"])).replace(tzinfo=None)
    closed_days = {h for h in spec["holidays"] if isinstance(h, str)}
    special = {h["date"]: h["hours"] for h in spec["holidays"] if isinstance(h, dict)}

    def intervals(day: date) -> list[tuple[int, int]]:
        if day.isoformat() in closed_days:
            return []
        if day.isoformat() in special:
            pairs = special[day.isoformat()]
        elif spec.get("always"):
            return [(0, 1440 * MINUTE)]
        else:
            pairs = spec["weekly"].get(DAYS[day.weekday()], [])
        result = []
        for start, end in pairs:
            begin, finish = (int(s[:2]) * 60 + int(s[3:]) for s in (start, end))
            result.append((begin * MINUTE, (finish if finish > begin else finish + 1440)
                           * MINUTE))
        return result

    midnight = wall.replace(hour=0, minute=0, second=0, microsecond=0)
    since = (wall - midnight) // timedelta(milliseconds=1)
    today = any(start <= since < end for start, end in intervals(wall.date()))
    yesterday = any(start <= since + DAY < end
                    for start, end in intervals(wall.date() - timedelta(days=1)))
    return today or yesterday


@PROPERTY
@given(st.data())
def test_is_open_reads_the_local_clock_away_from_clock_changes(data: st.DataObject) -> None:
    spec = data.draw(schedules())
    team, t = build(spec), data.draw(moments(spec["time_zone"]))
    assume(all(abs(t - change) > 2 * DAY for change in transitions(spec["time_zone"])))
    assert team.is_open(t) == naive_is_open(spec, t)
