"""One settings object configures everything. Read from arguments, `CHATKIT_*` environment
variables, or CLI flags (which the CLI passes as arguments)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["debug", "info", "warning", "error"]
MIB = 1024 * 1024


class Settings(BaseSettings):
    """chatkit's configuration.

    >>> Settings(database_url="sqlite:///support.db", prefix="/support").prefix
    '/support'
    """

    model_config = SettingsConfigDict(env_prefix="CHATKIT_", extra="forbid",
                                      validate_default=True)

    database_url: str = Field(
        "sqlite:///chatkit.db",
        description="sqlite:///path/to/file.db or postgresql://user@host/db",
    )
    redis_url: str | None = Field(None, description="redis://host:6379/0 to scale out")
    redis_channel: str = Field(
        "chatkit", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$",
        description="the Redis pub/sub channel the processes of one deployment share, and "
                    "the prefix of its keys (the room directory); give each deployment on "
                    "one Redis its own")
    database_pool_size: int = Field(
        5, ge=1, le=100,
        description="PostgreSQL connections each process keeps open (up to 5 more at peaks)")
    host: str = Field("127.0.0.1", description="address `chatkit serve` listens on")
    port: int = Field(8080, ge=1, le=65535, description="port `chatkit serve` listens on")
    prefix: str = Field("/chat", description="URL prefix chatkit is mounted at")
    kb_path: Path | None = Field(
        None, description="knowledge base file (YAML, Markdown, CSV) or folder; none: the demo KB")
    bot_path: Path | None = Field(
        None, description="bot flow YAML (greeting menu, handoff rules, texts); "
                          "none: the built-in flow")
    secret_key: str | None = Field(
        None, min_length=32,
        description="signs visitor and agent tokens; none: generated once, kept in the store",
    )
    identity_secret: str | None = Field(
        None, min_length=16,
        description="the secret the host site signs its users' ids with "
                    "(hex HMAC-SHA256 of the id, ChatKit('identify', {id, hash})); "
                    "none: identities cannot be verified")
    require_verified_identity: bool = Field(
        False, description="only visitors with a verified identity may send messages")
    log_level: LogLevel = Field("info", description="debug, info, warning or error")
    demo: bool = Field(False, description="serve the demo host page and create the demo agent")
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="sites allowed to embed the widget and to open Socket.IO connections; "
                    "none: any site may embed it, only chatkit's own pages may connect",
    )
    agent_token_ttl: int = Field(12 * 3600, ge=60, description="agent token lifetime, seconds")
    session_idle_timeout: int = Field(
        8 * 3600, ge=60, le=30 * 24 * 3600,
        description="a console sign-in ends after this long without a request, seconds "
                    "(a working day's pauses, not a night)")
    session_lifetime: int = Field(
        24 * 3600, ge=60, le=90 * 24 * 3600,
        description="a console sign-in ends this long after it began however busy, seconds: "
                    "agents sign in again once a day")
    login_max_failures: int = Field(
        5, ge=1, le=1000,
        description="failed sign-ins for one email (known or not) that lock it out")
    login_failure_window: int = Field(
        15 * 60, ge=1, le=24 * 3600,
        description="seconds within which failed sign-ins add up to a lockout")
    login_lockout: int = Field(
        15 * 60, ge=1, le=24 * 3600,
        description="seconds an email stays locked out, even with the right password")
    bot_enabled: bool = Field(True, description="the bot answers conversations before handoff")
    attachment_max_bytes: int = Field(
        10 * MIB, ge=1, le=100 * MIB,
        description="largest file a visitor or an agent may attach (images and PDF), bytes")
    attachment_url_ttl: int = Field(
        3600, ge=60, le=7 * 24 * 3600,
        description="how long an attachment's link in a message works, seconds (at least)")
    routing_path: Path | None = Field(
        None, description="routing YAML (teams, skills, strategies, agents' capacity); "
                          "none: one team, support, of every agent, round robin")
    qa_scorecard_path: Path | None = Field(
        None, description="QA scorecard YAML (criteria with weights, the daily sample's size); "
                          "none: the built-in scorecard")
    metrics_token: str | None = Field(
        None, min_length=16,
        description="the bearer token Prometheus sends to GET {prefix}/metrics; none: the "
                    "endpoint is off (404)")
    fcr_days: int = Field(
        7, ge=1, le=90,
        description="first-contact resolution: a conversation counts as resolved at first "
                    "contact when the contact begins none on the same topic within these days")
    triggers_path: Path | None = Field(
        None, description="proactive triggers YAML (open the widget with a message on a page, "
                          "after a time, for returning visitors); none: no triggers")
    agent_capacity: int = Field(3, ge=1, le=10_000,
                                description="chats an agent takes at once, unless routing "
                                            "YAML says otherwise")
    accept_timeout: float = Field(
        60, gt=0, le=3600,
        description="seconds an agent has to accept (join) an assigned chat before it goes to "
                    "the next agent")
    disconnect_grace: float = Field(
        30, ge=0, le=3600,
        description="seconds after an agent's last connection drops before they go offline "
                    "and their chats go back to the queue")
    connection_ttl: float = Field(
        30, ge=3, le=600,
        description="seconds an agent's connection counts as live unless its process renews "
                    "it (every third of this): how soon the agents of a process that died are "
                    "seen gone")
    abandon_grace: float = Field(
        120, ge=0, le=3600,
        description="seconds a queued visitor may be away (every widget tab closed or "
                    "offline) before the chat counts as abandoned and leaves the queue; a page "
                    "reload comes back well within it")
    routing_sweep_interval: float = Field(
        1.0, gt=0, le=60,
        description="seconds between each process's look for expired offers and absent "
                    "agents (kept in the store)")
    visitor_event_rate: float = Field(
        5, ge=0, le=10_000,
        description="events a second one visitor socket may send after its first burst "
                    "(messages, typing, reads, ...); more are refused with rate_limited and "
                    "resent by the widget; 0: no limit")
    visitor_event_burst: int = Field(
        30, ge=1, le=100_000, description="events one visitor socket may send at once")
    agent_event_rate: float = Field(
        20, ge=0, le=10_000,
        description="events a second one agent socket may send after its first burst; "
                    "0: no limit")
    agent_event_burst: int = Field(
        100, ge=1, le=100_000, description="events one agent socket may send at once")
    crm_url: str | None = Field(
        None, description="base URL of a CRM that speaks chatkit's CRM contract "
                          "(docs/architecture.md); none: chatkit's own contacts")
    crm_api_key: str | None = Field(
        None, min_length=1, description="sent to crm_url as `Authorization: Bearer <key>`")
    crm_timeout: float = Field(2.0, gt=0, le=30,
                               description="seconds each call to crm_url may take")
    crm_cache_ttl: float = Field(
        60.0, ge=0, le=24 * 3600,
        description="seconds a CRM lookup is reused (0: never cached)")
    widget_color: str = Field("#2563eb", pattern=r"^#[0-9A-Fa-f]{6}$",
                              description="the widget's accent colour, #rrggbb")
    widget_position: Literal["right", "left"] = Field(
        "right", description="the corner of the page the launcher sits in")
    widget_launcher_text: str | None = Field(
        None, min_length=1, max_length=40, pattern=r"^[^\x00-\x1f\x7f]+$",
        description="a label beside the launcher's icon, e.g. 'Chat with us'")

    @field_validator("prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        value = value.rstrip("/")
        if not value.startswith("/") or "//" in value or " " in value:
            raise ValueError("prefix must look like /chat (a path starting with /)")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if scheme not in {"sqlite", "sqlite+aiosqlite", "postgresql", "postgres",
                          "postgresql+asyncpg"} or "://" not in value:
            raise ValueError("database_url must be sqlite:///FILE or postgresql://...")
        return value

    @field_validator("crm_url")
    @classmethod
    def _check_crm_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL like https://crm.example.com")
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"{origin!r} is not an origin like https://example.com")
        return [origin.rstrip("/") for origin in value]
