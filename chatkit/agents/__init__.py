"""Agent accounts: creation, password login, tokens for the agent namespace."""

from chatkit.agents.service import AgentService

__all__ = ["AgentService"]
