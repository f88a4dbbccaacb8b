"""The schema of every payload a client may send (docs/protocol.md). Strict: no coercion of
"5" into 5, no unknown fields."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from chatkit.identity import MAX_ATTRIBUTES

MAX_BODY = 4000
OpenStatus = Literal["bot", "queued", "assigned"]


def _storable(value: str) -> str:
    # PostgreSQL cannot store U+0000 in text, and no legitimate client sends it; a lone
    # surrogate is not Unicode text at all and cannot be encoded for the database.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be only whitespace")
    return value


Text = Annotated[str, AfterValidator(_storable)]
ClientId = Annotated[Text, Field(min_length=1, max_length=64)]
Body = Annotated[Text, Field(min_length=1, max_length=MAX_BODY), AfterValidator(_not_blank)]
ConversationId = Annotated[Text, Field(min_length=1, max_length=64)]
Limit = Annotated[int, Field(ge=1, le=200)]
# A BCP 47 tag as browsers send them: "en", "es-MX", "zh-Hant-TW".
Locale = Annotated[str, Field(max_length=35, pattern=r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")]
ChoiceId = Annotated[Text, Field(min_length=1, max_length=100)]
MAX_ATTACHMENTS = 5
AttachmentId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]


def _distinct(value: list[str]) -> list[str]:
    if len(set(value)) != len(value):
        raise ValueError("must not name an attachment twice")
    return value


# Files uploaded first (POST {prefix}/api/attachments) that this message carries.
AttachmentIds = Annotated[list[AttachmentId],
                          Field(min_length=1, max_length=MAX_ATTACHMENTS),
                          AfterValidator(_distinct)]


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class VisitorAuth(Payload):
    token: str | None = Field(None, max_length=1000)


class AgentAuth(Payload):
    token: str = Field(max_length=1000)


# The host page the widget is on (the loader gives it to the frame): shown to agents in the
# CRM panel. http(s) only, no control characters, bounded.
PageUrl = Annotated[Text, Field(max_length=2000, pattern=r"^https?://[^\s\x00-\x1f\x7f]+$")]


class Resume(Payload):
    since_seq: int = Field(0, ge=0)
    limit: Limit = 50
    locale: Locale | None = None
    page: PageUrl | None = None


class PageView(Payload):
    """The host page moved to another URL without loading (a single-page app)."""

    page: PageUrl


class ReplyTo(Payload):
    seq: int = Field(ge=1)
    choice: ChoiceId


# A proactive trigger's id (chatkit/triggers.py).
TriggerId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class VisitorMessage(Payload):
    client_id: ClientId
    body: Body | None = None
    reply_to: ReplyTo | None = None
    attachment_ids: AttachmentIds | None = None
    # The visitor answers a proactive trigger's message: when this message starts the
    # conversation, the trigger's message is stored first.
    trigger: TriggerId | None = None

    @model_validator(mode="after")
    def _body_or_choice(self) -> VisitorMessage:
        # A quick reply's text is the label the bot offered, which the server knows.
        if self.reply_to is not None:
            if self.body is not None or self.attachment_ids is not None:
                raise ValueError("send either body (and attachment_ids) or reply_to")
            if self.trigger is not None:
                # A quick reply answers the greeting, which a trigger's message replaces.
                raise ValueError("trigger goes with body, not with reply_to")
        elif self.body is None and self.attachment_ids is None:
            raise ValueError("send body, attachment_ids, or reply_to")
        return self


class History(Payload):
    conversation_id: ConversationId
    before_seq: int | None = Field(None, ge=1)
    limit: Limit = 50


class Handoff(Payload):
    reason: Text | None = Field(None, max_length=200)


class Leave(Payload):
    """The visitor ends their chat while it waits in a queue ("End chat")."""

    conversation_id: ConversationId


def _email(value: str) -> str:
    # One @, something on each side, a dot in the domain, no spaces: enough to catch typos
    # without refusing real addresses (whether it is reachable only sending can tell).
    local, at, domain = value.rpartition("@")
    if (not at or not local or "@" in local or "." not in domain.strip(".")
            or any(ch.isspace() for ch in value) or len(local) > 64):
        raise ValueError("must be an email address like name@example.com")
    return value


Email = Annotated[Text, Field(min_length=3, max_length=254), AfterValidator(_email)]


class LeaveMessage(Payload):
    """The offline form: an email to reply to and the message (docs/protocol.md)."""

    client_id: ClientId
    email: Email
    body: Body


MAX_CSAT_COMMENT = 1000


class Rate(Payload):
    """The visitor rates a conversation an agent resolved (CSAT): 1 (very unhappy) to 5 (very
    happy), with an optional comment (plain text, never rendered as HTML)."""

    conversation_id: ConversationId
    rating: int = Field(ge=1, le=5)
    comment: Annotated[Text, Field(max_length=MAX_CSAT_COMMENT)] | None = None


class VisitorRead(Payload):
    seq: int = Field(ge=1)


class AgentRead(Payload):
    conversation_id: ConversationId
    seq: int = Field(ge=1)


class VisitorTyping(Payload):
    typing: bool


class AgentTyping(Payload):
    conversation_id: ConversationId
    typing: bool


# A conversation's tag, and a canned response's shortcut: a short slug ("refund", "vip-2").
Slug = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9](?:[a-z0-9_-]*)$")]


class ListConversations(Payload):
    status: list[OpenStatus] = Field(
        default_factory=lambda: list[OpenStatus](["queued", "assigned"]), min_length=1)
    limit: int = Field(100, ge=1, le=500)
    tag: Slug | None = None  # only those with this tag


class Join(Payload):
    conversation_id: ConversationId
    since_seq: int = Field(0, ge=0)
    limit: Limit = 50


class AgentMessage(Payload):
    conversation_id: ConversationId
    client_id: ClientId
    body: Body | None = None
    attachment_ids: AttachmentIds | None = None

    @model_validator(mode="after")
    def _body_or_files(self) -> AgentMessage:
        if self.body is None and self.attachment_ids is None:
            raise ValueError("send body, attachment_ids, or both")
        return self


# Why an agent resolved a conversation (models.ResolutionReason).
ResolutionReasonName = Literal["solved", "no_response", "duplicate", "spam", "other"]


class Resolve(Payload):
    conversation_id: ConversationId
    reason: ResolutionReasonName | None = None


class WidgetConfigQuery(Payload):
    locale: Locale | None = None


class Login(Payload):
    email: Text = Field(min_length=3, max_length=320)
    password: Text = Field(min_length=1, max_length=1000)


class RoutingUpdate(Payload):
    """PUT /api/routing: the new configuration (validated as a RoutingConfig by the routing
    service), and the version it was made from (optimistic concurrency)."""

    version: int = Field(ge=0)
    config: dict[str, Any]


# routing (agents)

AgentId = Annotated[Text, Field(min_length=1, max_length=32)]
TeamName = Annotated[Text, Field(min_length=1, max_length=100)]


class SetPresence(Payload):
    status: Literal["online", "away"]


class Pick(Payload):
    conversation_id: ConversationId | None = None  # None: the next in line
    since_seq: int = Field(0, ge=0)
    limit: Limit = 50


class Transfer(Payload):
    conversation_id: ConversationId
    to_agent_id: AgentId | None = None
    to_team: TeamName | None = None
    note: Annotated[Text, Field(min_length=1, max_length=1000)] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Transfer:
        if (self.to_agent_id is None) == (self.to_team is None):
            raise ValueError("send either to_agent_id or to_team")
        return self


class Reassign(Transfer):
    """A supervisor moves a chat to another agent or team (a transfer by someone who need
    not be its agent)."""


class ListQueue(Payload):
    team: TeamName | None = None  # None: every team the agent takes chats from
    limit: int = Field(100, ge=1, le=500)


class Directory(Payload):
    """Who a chat can be transferred to: no fields."""


# outbound (agents)

ContactId = Annotated[Text, Field(min_length=1, max_length=32)]


class FindContacts(Payload):
    #: An id, an email address (or its start) or a part of a name.
    query: Annotated[Text, Field(min_length=1, max_length=320), AfterValidator(_not_blank)]
    limit: int = Field(20, ge=1, le=50)


class ContactsQuery(BaseModel):
    """GET {prefix}/api/contacts: FindContacts as a query string (`limit` as digits)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    query: Annotated[Text, Field(min_length=1, max_length=320), AfterValidator(_not_blank)]
    limit: int = Field(20, ge=1, le=50)


class Context(Payload):
    """The CRM panel of a conversation the agent may see; `refresh` assembles it afresh (the
    CRM asked again, past its cache)."""

    conversation_id: ConversationId
    refresh: bool = False


class StartConversation(Payload):
    contact_id: ContactId
    client_id: ClientId
    body: Body


class VisitorStatusQuery(Payload):
    """GET {prefix}/api/widget/visitor takes no parameters (the token is a header)."""


# The host site's user id (ChatKit('identify')): printable, no spaces at either end.
ExternalId = Annotated[Text, Field(min_length=1, max_length=200,
                                   pattern=r"^[^\x00-\x1f\x7f\s](?:[^\x00-\x1f\x7f]*[^\x00-\x1f\x7f\s])?$")]
# Hex HMAC-SHA256, as the host site computes it (chatkit/identity.py).
IdentityHash = Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{64}$")]
ContactName = Annotated[Text, Field(min_length=1, max_length=200), AfterValidator(_not_blank)]


class Identify(Payload):
    """The host site's logged-in user (docs/protocol.md): verified when `hash` is the host
    server's signature of `id`."""

    id: ExternalId
    name: ContactName | None = None
    email: Email | None = None
    hash: IdentityHash | None = None


AttributeKey = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
# Numbers a browser holds exactly (within 2**53) and finite (JSON has no NaN or infinity).
AttributeValue = (Annotated[Text, Field(max_length=1000)] | bool
                  | Annotated[int, Field(ge=-(2**53), le=2**53)]
                  | Annotated[float, Field(allow_inf_nan=False, ge=-(2**53), le=2**53)] | None)


class SetAttributes(Payload):
    """The host site's custom attributes for this visitor: flat, JSON scalars; null removes
    one."""

    attributes: Annotated[dict[AttributeKey, AttributeValue],
                          Field(min_length=1, max_length=MAX_ATTRIBUTES)]


# the agent's desk: notes, supervision, tags, canned responses

class Note(Payload):
    """A private note (agents only), or a supervisor's whisper to the agent."""

    conversation_id: ConversationId
    client_id: ClientId
    body: Body


class Watch(Payload):
    conversation_id: ConversationId
    since_seq: int = Field(0, ge=0)
    limit: Limit = 50


class ConversationRef(Payload):
    conversation_id: ConversationId


MAX_TAG_CHANGES = 10


class ChangeTags(Payload):
    conversation_id: ConversationId
    add: Annotated[list[Slug], Field(max_length=MAX_TAG_CHANGES)] = Field(default_factory=list)
    remove: Annotated[list[Slug], Field(max_length=MAX_TAG_CHANGES)] = Field(
        default_factory=list)

    @model_validator(mode="after")
    def _something(self) -> ChangeTags:
        if not self.add and not self.remove:
            raise ValueError("send tags to add or remove")
        if set(self.add) & set(self.remove):
            raise ValueError("a tag cannot be both added and removed")
        return self


CannedTitle = Annotated[Text, Field(min_length=1, max_length=100), AfterValidator(_not_blank)]


class CannedCreate(Payload):
    """POST {prefix}/api/canned: a canned response (shared: admins only)."""

    shortcut: Slug
    title: CannedTitle
    body: Body
    shared: bool = False


class CannedUpdate(Payload):
    """PATCH {prefix}/api/canned/{id}: the fields to change."""

    shortcut: Slug | None = None
    title: CannedTitle | None = None
    body: Body | None = None

    @model_validator(mode="after")
    def _something(self) -> CannedUpdate:
        if self.shortcut is None and self.title is None and self.body is None:
            raise ValueError("send shortcut, title or body")
        return self

# the visitor's self-service profile (chatkit/profile.py)


def _phone(value: str) -> str:
    # As people write them: "+34 600 123 456", "(555) 010-0199"; 5 to 15 digits (E.164's most).
    digits = sum(ch.isdigit() for ch in value)
    if not 5 <= digits <= 15:
        raise ValueError("must be a phone number of 5 to 15 digits, like +34 600 123 456")
    return value


Phone = Annotated[str, Field(min_length=5, max_length=32,
                             pattern=r"^\+?[0-9(][0-9 ().-]*[0-9]$"), AfterValidator(_phone)]


class Preferences(Payload):
    """The preferences to change; one left out stays as it is, null sets it back to its
    default (chatkit/profile.py PREFERENCE_DEFAULTS)."""

    language: Locale | None = None
    transcript_by_email: bool | None = None
    replies_by_email: bool | None = None

    def given(self) -> dict[str, str | bool | None]:
        return {name: getattr(self, name) for name in sorted(self.model_fields_set)}


class GetProfile(Payload):
    """The visitor's own details and preferences (no parameters)."""


class UpdateProfile(Payload):
    """The details to correct: a field left out stays as it is, null removes it."""

    name: ContactName | None = None
    email: Email | None = None
    phone: Phone | None = None
    preferences: Preferences | None = None

    @model_validator(mode="after")
    def _something(self) -> UpdateProfile:
        # (An agent's UpdateContact names the contact besides.)
        if not self.model_fields_set - {"contact_id"}:
            raise ValueError("send at least one of name, email, phone, preferences")
        if "preferences" in self.model_fields_set and (
                self.preferences is None or not self.preferences.model_fields_set):
            raise ValueError("preferences: send at least one preference to change")
        return self

    def details(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in ("name", "email", "phone")
                if name in self.model_fields_set}

    def preferences_given(self) -> dict[str, str | bool | None]:
        return {} if self.preferences is None else self.preferences.given()


class UpdateContact(UpdateProfile):
    """An agent corrects a contact's details (as the visitor would theirs)."""

    contact_id: ContactId


class ContactHistoryQuery(Payload):
    contact_id: ContactId
    before_id: int | None = Field(None, ge=1)  # the oldest entry already read
    limit: Limit = 50
