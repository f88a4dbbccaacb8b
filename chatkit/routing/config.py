"""Who takes which chats: teams, their skills and strategies, and agents' teams, skills and
capacity, configured in YAML (`routing.yaml`, setting `routing_path`).

    default_team: support          # where chats with no team (or an unknown one) wait
    default_capacity: 3            # optional; else the `agent_capacity` setting
    teams:
      - id: support
        name: Support
        strategy: round_robin      # round_robin | least_busy | manual
      - id: billing
        name: Billing
        skills: [billing]          # an agent needs every one of them
        strategy: least_busy
        overflow: support          # optional: a team that may take its chats, and that new
                                   # chats go to while this one is closed (follow the sun)
        hours:                     # optional: when the team is open (chatkit/routing/hours.py)
          time_zone: Europe/Madrid
          weekly: {mon: [["09:00", "18:00"]], tue: [["09:00", "18:00"]]}
    agents:                        # by email; agents not named belong to default_team
      ada@example.com: {teams: [support, billing], skills: [billing], capacity: 4}

With no file there is one team, `support`, round robin, that every agent belongs to.

The file seeds the configuration kept in the store, which admins can edit in the console
(routing/stored.py says which wins when both exist).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chatkit.configfile import load_config_file
from chatkit.models import Agent, AgentRole, Conversation, Strategy
from chatkit.routing.hours import BusinessHours

DEFAULT_TEAM = "support"

TeamId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]
Skill = Annotated[str, Field(min_length=1, max_length=100)]
Email = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TeamConfig(_Strict):
    id: TeamId
    name: str = Field("", max_length=200)
    skills: frozenset[Skill] = frozenset()
    strategy: Strategy = Strategy.ROUND_ROBIN
    #: A team whose agents may take this team's chats when none of its own can, and where
    #: new chats go while this team is closed, if it is open (follow the sun).
    overflow: TeamId | None = None
    #: When the team is open (None: always). Out of hours, new chats go along the overflow
    #: chain to an open team, else wait here and the visitor may leave a message.
    hours: BusinessHours | None = None

    @property
    def title(self) -> str:
        return self.name or self.id

    def is_open(self, at_ms: int) -> bool:
        return self.hours is None or self.hours.is_open(at_ms)

    def next_open(self, at_ms: int) -> int | None:
        """When the team next opens (`at_ms` itself when open; None: never)."""
        return at_ms if self.hours is None else self.hours.next_open(at_ms)


class AgentRouting(_Strict):
    teams: list[TeamId] | None = None  # None: the default team
    skills: frozenset[Skill] = frozenset()
    capacity: int | None = Field(None, ge=1, le=10_000)


class RoutingConfig(_Strict):
    default_team: TeamId | None = None  # None: the first team
    default_capacity: int | None = Field(None, ge=1, le=10_000)
    teams: list[TeamConfig] = Field(default_factory=lambda: [TeamConfig(id=DEFAULT_TEAM)],
                                    min_length=1)
    agents: dict[Email, AgentRouting] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_references(self) -> RoutingConfig:
        ids = [team.id for team in self.teams]
        if len(set(ids)) != len(ids):
            raise ValueError(f"teams: each id once ({', '.join(sorted(ids))})")
        known = set(ids)
        if self.default_team is not None and self.default_team not in known:
            raise ValueError(f"default_team: no team {self.default_team!r}")
        for team in self.teams:
            if team.overflow is not None and team.overflow not in known:
                raise ValueError(f"teams.{team.id}.overflow: no team {team.overflow!r}")
            if team.overflow == team.id:
                raise ValueError(f"teams.{team.id}.overflow: a team cannot overflow to itself")
        for email, agent in self.agents.items():
            for team_id in agent.teams or ():
                if team_id not in known:
                    raise ValueError(f"agents.{email}.teams: no team {team_id!r}")
        return self


class Routing:
    """A validated routing configuration, with the questions routing asks of it."""

    def __init__(self, config: RoutingConfig | None = None, *, default_capacity: int = 3) -> None:
        self.config = config or RoutingConfig()
        self.teams: dict[str, TeamConfig] = {team.id: team for team in self.config.teams}
        self.default_team = self.config.default_team or self.config.teams[0].id
        self.default_capacity = self.config.default_capacity or default_capacity
        self._agents = {email.lower(): a for email, a in self.config.agents.items()}

    def team_for(self, asked: str | None) -> str:
        """The queue a chat asking for team `asked` waits in."""
        return asked if asked is not None and asked in self.teams else self.default_team

    def overflow_chain(self, team_id: str) -> list[str]:
        """The team and the teams its overflow leads to, in order, each once (overflow may
        run in a circle: Madrid -> New York -> Madrid)."""
        chain: list[str] = []
        current: str | None = team_id
        while current is not None and current in self.teams and current not in chain:
            chain.append(current)
            current = self.teams[current].overflow
        return chain

    def route(self, asked: str | None, at_ms: int) -> str:
        """The queue a chat asking for team `asked` joins at `at_ms`: that team (team_for) if
        it is open, else the first open team along its overflow chain (follow the sun), else
        that team anyway, where it waits for the next shift."""
        home = self.team_for(asked)
        for team_id in self.overflow_chain(home):
            if self.teams[team_id].is_open(at_ms):
                return team_id
        return home

    def teams_of(self, agent: Agent) -> list[str]:
        found = self._agents.get(agent.email.lower())
        return list(found.teams) if found is not None and found.teams is not None else [
            self.default_team]

    def capacity_of(self, agent: Agent) -> int:
        found = self._agents.get(agent.email.lower())
        return found.capacity if found is not None and found.capacity else self.default_capacity

    def skills_of(self, agent: Agent) -> frozenset[str]:
        found = self._agents.get(agent.email.lower())
        return found.skills if found is not None else frozenset()

    def can_take(self, agent: Agent, team_id: str) -> bool:
        """Whether the agent may be given the team's chats: a member with its skills."""
        team = self.teams.get(team_id)
        return (team is not None and team_id in self.teams_of(agent)
                and team.skills <= self.skills_of(agent))

    def sees(self, agent: Agent, conversation: Conversation) -> bool:
        """Whether the agent may see the conversation (list it, join it, read its history
        and files): supervisors and admins every one; an agent those assigned to them and
        those of their teams' queues (waiting there, or assigned from there). One in no queue
        yet (with the bot) counts as the default team's."""
        if agent.role is not AgentRole.AGENT or conversation.agent_id == agent.id:
            return True
        teams = self.teams_of(agent)
        if conversation.queue_team is None:
            return self.default_team in teams
        return conversation.queue_team in teams

    def candidates(self, agents: list[Agent], team_id: str) -> dict[str, int]:
        """agent id -> capacity, of the agents who may take the team's chats."""
        return {a.id: self.capacity_of(a) for a in agents if self.can_take(a, team_id)}


def load_routing_config(path: Path) -> RoutingConfig:
    """Read and validate a routing.yaml. Blocking: call it in a thread from async code.
    Raises ConfigError naming the file and each field at fault."""
    return load_config_file(path, RoutingConfig, what="routing file",
                            missing="no such routing file", shape="teams:, agents:, ...")


def load_routing(path: Path | None, *, default_capacity: int = 3) -> Routing:
    """A Routing from a routing.yaml (None: the one default team). Blocking, as
    load_routing_config. (A running ChatKit routes by the configuration in the store, which
    the file seeds: routing/stored.py.)"""
    if path is None:
        return Routing(default_capacity=default_capacity)
    return Routing(load_routing_config(path), default_capacity=default_capacity)
