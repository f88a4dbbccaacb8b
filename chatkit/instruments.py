"""What the services tell the process's metrics (Prometheus, chatkit/reports/prometheus.py):
messages handled and how long each took, handoffs, FAQ matching times. A service holds an
`Instruments`; the default does nothing, so services need no metrics to run or be tested."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar


class Instruments(Protocol):
    def message_handled(self, sender: str, seconds: float) -> None:
        """A message from `sender` (visitor, agent) was handled (stored and sent on)."""

    def handoff(self, reason: str) -> None:
        """A conversation was handed off to the queue."""

    def faq_matched(self, seconds: float) -> None:
        """The knowledge base matched a question."""


class NoInstruments:
    def message_handled(self, sender: str, seconds: float) -> None:
        pass

    def handoff(self, reason: str) -> None:
        pass

    def faq_matched(self, seconds: float) -> None:
        pass


class _Instrumented(Protocol):
    instruments: Instruments


P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound=_Instrumented)


def timed_message(sender: str) -> Callable[[Callable[Concatenate[S, P], Awaitable[R]]],
                                           Callable[Concatenate[S, P], Awaitable[R]]]:
    """Count and time a method that handles a message from `sender`, through its object's
    instruments; a message refused (an exception) counts too, with its time."""

    def decorate(method: Callable[Concatenate[S, P], Awaitable[R]]
                 ) -> Callable[Concatenate[S, P], Awaitable[R]]:
        @functools.wraps(method)
        async def timed(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            try:
                return await method(self, *args, **kwargs)
            finally:
                self.instruments.message_handled(sender, time.perf_counter() - started)

        return timed

    return decorate


__all__ = ["Instruments", "NoInstruments", "timed_message"]
