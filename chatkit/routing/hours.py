"""A team's business hours: a weekly schedule in an IANA time zone, with holidays.

Pure: no I/O and no clock. Every time in and out is an integer, milliseconds since the Unix
epoch (as `chatkit.models.now_ms()` gives), so "open now?" is `hours.is_open(now_ms())`.

In YAML (a team's `hours:`, or any mapping given to `BusinessHours.model_validate` or
`load_hours`):

    time_zone: Europe/Madrid            # IANA name
    weekly:                             # mon tue wed thu fri sat sun; a day not named is closed
      mon: [["09:00", "14:00"], ["15:00", "18:00"]]
      sat: [["10:00", "14:00"]]
      fri: [["22:00", "02:00"]]         # crosses midnight: belongs to Friday
    holidays:
      - 2026-12-25                      # closed all day
      - {date: 2026-12-24, hours: [["09:00", "13:00"]], name: Christmas Eve}

`always: true` (instead of `weekly`) is open 24/7; holidays still apply to it. Times are quoted
"HH:MM" strings: unquoted, YAML reads 18:00 as the number 1080.

The rules:

- An interval is `[start, end)`: open at its start, closed at its end. "24:00" ends one at the
  next midnight; an end at or before the start (22:00-02:00) ends on the next day, and the
  interval belongs to the day it starts (Friday's 22:00-02:00 runs into Saturday morning).
  Intervals may touch (09:00-12:00, 12:00-18:00) but not overlap, including a day's overnight
  interval with the next day's (Sunday's runs into Monday's).
- A holiday replaces the intervals that start on its date: none (closed all day) or its own
  `hours`. An overnight interval that started the day before still runs to its end.
- The schedule is wall-clock time in `time_zone`, and follows it across daylight-saving
  changes. Each wall-clock time T of a day is the first instant at which the local clock reads
  T or later. So a time that exists once is that instant; a repeated time (clocks go back) is
  its first occurrence (fold=0); a time skipped by clocks going forward is the first instant
  after the gap, which is the instant of the change. Hence, where clocks jump 02:00 -> 03:00,
  01:30-03:30 is open one hour that day and 02:15-02:45 not at all; where they go back
  02:00 -> 01:00, 01:00-03:00 is open three hours.

Computing a day's intervals costs a few time-zone conversions (cached), so `open_ms_between`
is linear in the number of days of its span.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from chatkit.errors import ConfigError, config_problems

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
#: The day names, in `date.weekday()` order (Monday is 0).
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)

_DAY = 24 * 60  # minutes
_CLOCK = re.compile(r"([0-9]{2}):([0-9]{2})")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
# How many days past a schedule's last holiday (and past the asked time) to look for an opening
# or a closing before answering "never". After the last holiday the schedule repeats weekly, so
# two weeks show every opening and closing it has, even if a daylight-saving gap hides one.
_SETTLE_DAYS = 16

Span = tuple[int, int]  # [start, end) in ms since the epoch


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _parse_clock(value: Any, *, end: bool) -> int:
    """Minutes after midnight from "HH:MM"."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _DAY:
        hours, minutes = divmod(value, 60)
        raise ValueError(f"got the number {value}: write times as quoted strings, "
                         f'"{hours:02d}:{minutes:02d}" (YAML reads an unquoted '
                         f"{hours}:{minutes:02d} as a number)")
    match = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'bad time {value!r}: write "HH:MM", from "00:00" to "24:00"')
    hours, minutes = int(match[1]), int(match[2])
    if minutes >= 60 or hours > 24 or (hours == 24 and minutes > 0):
        raise ValueError(f'bad time {value!r}: write "HH:MM", from "00:00" to "24:00"')
    if hours == 24 and not end:
        raise ValueError('"24:00" can only end an interval; start at "00:00"')
    return hours * 60 + minutes


class Interval(_Strict):
    """Open from `start` to `end`, in minutes after local midnight. Written as a pair of times,
    `["09:00", "18:00"]`. `end` is 1..1440 (an end of "00:00" is read as "24:00"); an end
    before the start is on the next day."""

    start: int = Field(ge=0, lt=_DAY)
    end: int = Field(gt=0, le=_DAY)

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, value: Any) -> Any:
        if isinstance(value, BaseModel | dict):
            return value
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise ValueError(f'an interval is a pair of times like ["09:00", "18:00"], '
                             f"got {value!r}")
        start = _parse_clock(value[0], end=False)
        end = _parse_clock(value[1], end=True)
        if start == end:
            raise ValueError(f"{value[0]}-{value[1]} is empty (to be open all day, write "
                             f'["00:00", "24:00"])')
        return {"start": start, "end": end or _DAY}

    @model_validator(mode="after")
    def _not_empty(self) -> Interval:
        if self.start == self.end:
            raise ValueError("start and end are the same: the interval is empty")
        return self

    @property
    def stop(self) -> int:
        """Where the interval ends, in minutes after the midnight that starts its day: past
        1440 when it crosses midnight."""
        return self.end if self.end > self.start else self.end + _DAY

    @model_serializer
    def _as_pair(self) -> list[str]:
        return [_clock(self.start), _clock(self.end)]

    def __str__(self) -> str:
        start, end = self._as_pair()
        return f"{start}-{end}"


_ALL_DAY = Interval(start=0, end=_DAY)


class Holiday(_Strict):
    """A date with its own hours: none (closed all day, written as just the date) or `hours`."""

    date: date
    hours: tuple[Interval, ...] = Field(default=(), max_length=24)
    name: str | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="before")
    @classmethod
    def _from_date(cls, value: Any) -> Any:
        # `- 2026-12-25` (a date in YAML, a string in JSON) is a day closed all day.
        return {"date": value} if isinstance(value, str | date) else value

    @field_validator("hours")
    @classmethod
    def _sorted_apart(cls, hours: tuple[Interval, ...]) -> tuple[Interval, ...]:
        hours = tuple(sorted(hours, key=lambda interval: interval.start))
        clash = _first_overlap([(iv.start, iv.stop, str(iv)) for iv in hours])
        if clash:
            raise ValueError(f"{clash[0]} overlaps {clash[1]}")
        return hours


def _first_overlap(spans: list[tuple[int, int, str]]) -> tuple[str, str] | None:
    """The labels of two overlapping spans, if any ([start, end) spans: touching is fine)."""
    ordered = sorted(spans)
    for (_, end, label), (start, _, other) in pairwise(ordered):
        if start < end:
            return label, other
    return None


class BusinessHours(_Strict):
    """When a team is open. See the module's docstring for the format and the rules.

        >>> hours = BusinessHours.model_validate(
        ...     {"time_zone": "Europe/Madrid", "weekly": {"mon": [["09:00", "18:00"]]}})
        >>> hours.is_open(1_789_372_800_000)  # Monday 2026-09-14 10:00 in Madrid
        True
    """

    time_zone: str = Field(min_length=1, max_length=100)
    always: bool = False
    weekly: dict[Weekday, tuple[Interval, ...]] = Field(default_factory=dict)
    holidays: tuple[Holiday, ...] = Field(default=(), max_length=1000)

    _zone: ZoneInfo = PrivateAttr()
    _holidays: dict[date, Holiday] = PrivateAttr()
    _ever_open: bool = PrivateAttr()
    _settled: date = PrivateAttr()  # the last date that can differ from the weekly schedule

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            if not available_timezones():
                raise ValueError(f"unknown time zone {name!r}: this system has no time zone "
                                 "data; pip install tzdata") from None
            raise ValueError(f"unknown time zone {name!r}: use an IANA name like "
                             "Europe/Madrid or America/New_York") from None
        return name

    @field_validator("weekly", mode="before")
    @classmethod
    def _known_days(cls, weekly: Any) -> Any:
        if isinstance(weekly, dict):
            for day in weekly:
                if day not in WEEKDAYS:
                    raise ValueError(f"unknown day {day!r}: the days are "
                                     f"{', '.join(WEEKDAYS)}")
        return weekly

    @field_validator("weekly")
    @classmethod
    def _check_weekly(cls, weekly: dict[Weekday, tuple[Interval, ...]],
                      info: ValidationInfo) -> dict[Weekday, tuple[Interval, ...]]:
        if info.data.get("always") and any(weekly.values()):
            raise ValueError("always: true is open every day at all hours; "
                             "leave weekly out, or set always: false")
        weekly = {day: tuple(sorted(weekly[day], key=lambda iv: iv.start))
                  for day in WEEKDAYS if day in weekly}
        spans = [(n * _DAY + iv.start, n * _DAY + iv.stop, f"{day} {iv}")
                 for n, day in enumerate(WEEKDAYS) for iv in weekly.get(day, ())]
        # Sunday's overnight interval runs into next Monday's.
        spans += [(7 * _DAY + iv.start, 7 * _DAY + iv.stop, f"mon {iv}")
                  for iv in weekly.get("mon", ())]
        clash = _first_overlap(spans)
        if clash:
            raise ValueError(f"{clash[0]} overlaps {clash[1]}")
        return weekly

    @field_validator("holidays")
    @classmethod
    def _check_holidays(cls, holidays: tuple[Holiday, ...],
                        info: ValidationInfo) -> tuple[Holiday, ...]:
        seen: dict[date, int] = {}
        for n, holiday in enumerate(holidays):
            if holiday.date in seen:
                raise ValueError(f"[{n}]: {holiday.date} is already a holiday "
                                 f"(holidays[{seen[holiday.date]}])")
            seen[holiday.date] = n
        if "weekly" not in info.data:  # weekly is invalid: its own error says why
            return holidays
        always, weekly = bool(info.data.get("always")), info.data["weekly"]
        by_date = {holiday.date: holiday for holiday in holidays}
        for n, holiday in enumerate(holidays):
            # The day before may run into the holiday's hours; the holiday's into the day after.
            spans = [(k * _DAY + iv.start, k * _DAY + iv.stop, f"{day} {iv}")
                     for k, day in enumerate(holiday.date + timedelta(days=d) for d in (-1, 0, 1))
                     for iv in _intervals_on(day, always, weekly, by_date)]
            clash = _first_overlap(spans)
            if clash:
                raise ValueError(f"[{n}]: {clash[0]} overlaps {clash[1]}")
        return holidays

    def model_post_init(self, context: Any, /) -> None:
        self._zone = ZoneInfo(self.time_zone)
        self._holidays = {holiday.date: holiday for holiday in self.holidays}
        self._ever_open = (self.always or any(self.weekly.values())
                           or any(holiday.hours for holiday in self.holidays))
        self._settled = max(self._holidays, default=date.min)

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    def intervals_on(self, day: date) -> tuple[Interval, ...]:
        """The intervals that start on `day` (a local date): its holiday's, else its weekday's."""
        return _intervals_on(day, self.always, self.weekly, self._holidays)

    def is_open(self, at_ms: int) -> bool:
        """Whether the team is open at `at_ms`."""
        day = self._local_date(at_ms)
        # An overnight interval from the day before may still be open; and where clocks go
        # back across midnight, the local date can lag the next day's first interval.
        return any(start <= at_ms < end for start, end in self._spans(day - _ONE_DAY,
                                                                      day + _ONE_DAY))

    def next_open(self, at_ms: int) -> int | None:
        """The first moment at or after `at_ms` that the team is open: `at_ms` itself if it is
        open then, None if it never opens again."""
        if not self._ever_open:
            return None
        day = self._local_date(at_ms)
        for start, end in self._spans(day - _ONE_DAY, self._horizon(day)):
            if end > at_ms:
                return max(start, at_ms)
        return None

    def next_close(self, at_ms: int) -> int | None:
        """The first moment at or after `at_ms` that the team is closed: `at_ms` itself if it
        is closed then, None if it never closes (open 24/7)."""
        if self.always and not self.holidays:
            return None
        day = self._local_date(at_ms)
        horizon = self._horizon(day)
        for start, end in _merged(self._spans(day - _ONE_DAY, horizon)):
            if end <= at_ms:
                continue
            if start > at_ms:
                break
            # Still open at the horizon, two weekly cycles after anything special: always.
            return None if end >= self._instant(horizon + _ONE_DAY, 0) else end
        return at_ms

    def open_ms_between(self, start_ms: int, end_ms: int) -> int:
        """How many milliseconds of `[start_ms, end_ms)` the team is open: the business-hours
        part of a wait. Linear in the days the span covers."""
        if end_ms < start_ms:
            raise ValueError(f"the span ends ({end_ms}) before it starts ({start_ms})")
        if end_ms == start_ms:
            return 0
        first, last = self._local_date(start_ms), self._local_date(end_ms)
        total = 0
        for start, end in self._spans(first - _ONE_DAY, last + _ONE_DAY):
            if start >= end_ms:
                break
            total += max(0, min(end, end_ms) - max(start, start_ms))
        return total

    def _local_date(self, at_ms: int) -> date:
        return (_EPOCH + at_ms * _MS).astimezone(self._zone).date()

    def _horizon(self, day: date) -> date:
        return max(day, self._settled) + timedelta(days=_SETTLE_DAYS)

    def _instant(self, day: date, minutes: int) -> int:
        return _instant_ms(datetime.combine(day, time()) + timedelta(minutes=minutes),
                           self._zone)

    def _spans(self, first: date, last: date) -> Iterator[Span]:
        """The open spans of the intervals starting on `first` to `last` (local dates), in
        order; they do not overlap, but one may end where the next starts."""
        for n in range((last - first).days + 1):
            day = first + timedelta(days=n)
            intervals = self.intervals_on(day)
            if intervals:
                yield from _day_spans(self._zone, day,
                                      tuple((iv.start, iv.stop) for iv in intervals))


_ONE_DAY = timedelta(days=1)


def _intervals_on(day: date, always: bool, weekly: dict[Weekday, tuple[Interval, ...]],
                  holidays: dict[date, Holiday]) -> tuple[Interval, ...]:
    holiday = holidays.get(day)
    if holiday is not None:
        return holiday.hours
    if always:
        return (_ALL_DAY,)
    return weekly.get(WEEKDAYS[day.weekday()], ())


def _merged(spans: Iterator[Span]) -> Iterator[Span]:
    """Touching spans joined: the stretches of time the team is open without a break."""
    current: Span | None = None
    for start, end in spans:
        if current is not None and start <= current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current is not None:
            yield current
        current = (start, end)
    if current is not None:
        yield current


@lru_cache(maxsize=4096)
def _day_spans(zone: ZoneInfo, day: date,
               minutes: tuple[tuple[int, int], ...]) -> tuple[Span, ...]:
    midnight = datetime.combine(day, time())
    spans = []
    for start, stop in minutes:
        span = (_instant_ms(midnight + timedelta(minutes=start), zone),
                _instant_ms(midnight + timedelta(minutes=stop), zone))
        if span[1] > span[0]:  # an interval inside a daylight-saving gap is never open
            spans.append(span)
    return tuple(spans)


def _to_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _MS


def _wall(at_ms: int, zone: ZoneInfo) -> datetime:
    return (_EPOCH + at_ms * _MS).astimezone(zone).replace(tzinfo=None)


def _instant_ms(wall: datetime, zone: ZoneInfo) -> int:
    """The first instant at which the clocks in `zone` read `wall` or later."""
    # fold=0 is the first occurrence of a repeated time, and right for any time that exists.
    late = _to_ms(wall.replace(tzinfo=zone))
    if _wall(late, zone) == wall:
        return late
    # `wall` is in a gap. fold=0 applied the offset from before it, landing past the change;
    # fold=1 applies the one after, landing before it. The change itself, on a whole second
    # as in every tz database, is the first instant that reads later than `wall`.
    early_s, late_s = _to_ms(wall.replace(tzinfo=zone, fold=1)) // 1000, -(-late // 1000)
    while late_s - early_s > 1:
        middle = (early_s + late_s) // 2
        if _wall(middle * 1000, zone) >= wall:
            late_s = middle
        else:
            early_s = middle
    return late_s * 1000


def first_open(teams: Sequence[tuple[str, BusinessHours]], at_ms: int) -> str | None:
    """Follow the sun: the first team, in the order given, that is open at `at_ms`; None when
    all are closed. `first_open([("madrid", madrid), ("new-york", new_york)], now_ms())`."""
    for name, hours in teams:
        if hours.is_open(at_ms):
            return name
    return None


def load_hours(mapping: Any, *, source: str) -> BusinessHours:
    """Validate business hours read from a file (YAML or JSON), for a caller that reports
    errors by file: raises ConfigError naming `source` and each field at fault. A model that
    embeds business hours just declares a `BusinessHours` field instead."""
    try:
        return BusinessHours.model_validate(mapping)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {config_problems(exc)}") from exc
