"""The Prometheus endpoint's metrics, one registry per ChatKit (tests run many in a process).

Counters and histograms (messages, handoffs, message handling and FAQ matching times) are
this process's, as Prometheus expects: it sums the processes. The gauges that describe the
deployment (agents online, queues) are read from the store at scrape time, so every process
reports the same values for them; connected visitors are this process's sockets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from chatkit.models import Agent, Presence, now_ms
from chatkit.storage import Store

#: Seconds: a message is handled in milliseconds; a slow store shows in the upper buckets.
MESSAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
FAQ_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

__all__ = ["CONTENT_TYPE", "PrometheusMetrics"]


class PrometheusMetrics:
    """chatkit's metrics; also the services' Instruments (chatkit/instruments.py)."""

    def __init__(self, store: Store, *, teams_of: Callable[[Agent], Sequence[str]],
                 visitors_connected: Callable[[], int]) -> None:
        self.store = store
        self._teams_of = teams_of
        self._visitors_connected = visitors_connected
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages = Counter("chatkit_messages", "Messages handled, by sender",
                                ["sender"], registry=r)
        self.handoffs = Counter("chatkit_handoffs", "Conversations handed off to a queue, "
                                "by reason", ["reason"], registry=r)
        self.message_seconds = Histogram(
            "chatkit_message_handling_seconds", "Time to handle a message (store, deliver), "
            "by sender", ["sender"], buckets=MESSAGE_BUCKETS, registry=r)
        self.faq_seconds = Histogram("chatkit_faq_match_seconds",
                                     "Time to match a question in the knowledge base",
                                     buckets=FAQ_BUCKETS, registry=r)
        self.visitors = Gauge("chatkit_connected_visitors",
                              "Widget connections to this process", registry=r)
        self.agents_online = Gauge("chatkit_agents_online", "Agents online, by team",
                                   ["team"], registry=r)
        self.queue_length = Gauge("chatkit_queue_length",
                                  "Conversations waiting in a team's queue", ["team"],
                                  registry=r)
        self.oldest_wait = Gauge("chatkit_queue_oldest_wait_seconds",
                                 "How long the conversation waiting longest in a team's queue "
                                 "has waited", ["team"], registry=r)

    # Instruments

    def message_handled(self, sender: str, seconds: float) -> None:
        self.messages.labels(sender).inc()
        self.message_seconds.labels(sender).observe(seconds)

    def handoff(self, reason: str) -> None:
        self.handoffs.labels(reason).inc()

    def faq_matched(self, seconds: float) -> None:
        self.faq_seconds.observe(seconds)

    # the scrape

    async def scrape(self) -> bytes:
        """The exposition text, with the gauges read from the store now."""
        queues = await self.store.queue_stats()
        agents = await self.store.list_agents()
        presence = await self.store.get_presence([agent.id for agent in agents])
        online: dict[str, int] = {}
        for agent in agents:
            here = presence.get(agent.id)
            for team in self._teams_of(agent):
                online.setdefault(team, 0)
                if here is not None and here.presence is Presence.ONLINE:
                    online[team] += 1
        now = now_ms()
        self.visitors.set(self._visitors_connected())
        # Teams that emptied since the last scrape read 0, not their last value.
        for gauge in (self.agents_online, self.queue_length, self.oldest_wait):
            gauge.clear()
        for team, count in online.items():
            self.agents_online.labels(team).set(count)
        for team in set(online) | set(queues):
            length, oldest = queues.get(team, (0, now))
            self.queue_length.labels(team).set(length)
            self.oldest_wait.labels(team).set(max(0, now - oldest) / 1000 if length else 0)
        return generate_latest(self.registry)
