"""Socket.IO: the server factory, the visitor and agent namespaces, their event schemas."""

from chatkit.realtime.server import create_socket_server

__all__ = ["create_socket_server"]
