"""Routing: which team a conversation goes to, and when it can be answered."""

from chatkit.routing.config import (
    Routing,
    RoutingConfig,
    TeamConfig,
    load_routing,
    load_routing_config,
)
from chatkit.routing.hours import BusinessHours, Holiday, Interval, first_open, load_hours
from chatkit.routing.service import RoutingService
from chatkit.routing.stored import InvalidRoutingConfig
from chatkit.routing.wait import QueueWaits, Wait

__all__ = [
    "BusinessHours",
    "Holiday",
    "Interval",
    "InvalidRoutingConfig",
    "QueueWaits",
    "Routing",
    "RoutingConfig",
    "RoutingService",
    "TeamConfig",
    "Wait",
    "first_open",
    "load_hours",
    "load_routing",
    "load_routing_config",
]
