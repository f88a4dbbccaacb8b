"""routing.yaml: validated, with errors naming the file and the field; no file, one team."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatkit.errors import ConfigError
from chatkit.models import Agent, AgentRole, Strategy
from chatkit.routing.config import load_routing


def agent(email: str) -> Agent:
    return Agent(id=email, email=email, name=email, role=AgentRole.AGENT, password_hash="h",
                 created_at=0)


def test_no_file_is_one_support_team_of_everyone() -> None:
    routing = load_routing(None, default_capacity=4)
    assert list(routing.teams) == ["support"] and routing.default_team == "support"
    assert routing.teams["support"].strategy is Strategy.ROUND_ROBIN
    anyone = agent("x@example.com")
    assert routing.teams_of(anyone) == ["support"] and routing.capacity_of(anyone) == 4
    assert routing.team_for(None) == routing.team_for("billing") == "support"


def test_a_file_names_teams_skills_and_capacities(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text("""
default_team: general
default_capacity: 2
teams:
  - {id: general, name: General}
  - {id: billing, skills: [billing], strategy: least_busy, overflow: general,
     hours: {time_zone: Europe/Paris, weekly: {mon: [["09:00", "17:00"]]}}}
agents:
  Ada@Example.com: {teams: [billing], skills: [billing, es], capacity: 5}
  bo@example.com: {teams: [billing]}
""", encoding="utf-8")
    routing = load_routing(path, default_capacity=3)
    ada, bo, cy = agent("ada@example.com"), agent("bo@example.com"), agent("cy@example.com")
    assert routing.team_for("billing") == "billing" and routing.team_for(None) == "general"
    assert routing.capacity_of(ada) == 5 and routing.capacity_of(cy) == 2
    assert routing.can_take(ada, "billing") and not routing.can_take(bo, "billing")
    assert routing.teams_of(cy) == ["general"] and not routing.can_take(cy, "billing")
    assert routing.candidates([ada, bo, cy], "billing") == {"ada@example.com": 5}
    hours = routing.teams["billing"].hours
    assert hours is not None and hours.time_zone == "Europe/Paris"
    monday_10_paris = 1_794_214_800_000  # 2026-11-09 10:00 CET
    assert hours.is_open(monday_10_paris) and not hours.is_open(monday_10_paris + 8 * 3_600_000)


@pytest.mark.parametrize(("text", "message"), [
    ("teams: [{id: a}, {id: a}]", "teams: each id once"),
    ("teams: [{id: a, strategy: random}]", "teams[0].strategy"),
    ("teams: [{id: a, overflow: b}]", "teams.a.overflow: no team 'b'"),
    ("teams: [{id: a, overflow: a}]", "cannot overflow to itself"),
    ("teams: [{id: a, hours: {time_zone: Mars/Olympus}}]", "teams[0].hours"),
    ("teams: [{id: a}]\ndefault_team: b", "default_team: no team 'b'"),
    ("teams: [{id: a}]\nagents: {x@y.z: {teams: [b]}}", "agents.x@y.z.teams: no team 'b'"),
    ("agents: {x@y.z: {capacity: 0}}", "agents.x@y.z.capacity"),
    ("agents: {not-an-email: {}}", "agents.not-an-email: String should match"),
    ("teams: []", "teams: List should have at least 1 item"),
    ("teams: [{id: 'a b'}]", "teams[0].id"),
    ("teems: []", "teems: Extra inputs are not permitted"),
    ("- a list", "must be a mapping"),
    ("teams: [", "cannot read the routing file"),
])
def test_errors_name_the_file_and_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_routing(path)
    assert str(path) in caught.value.message and message in caught.value.message


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such routing file"):
        load_routing(tmp_path / "nope.yaml")
