"""What both sandboxes are built on: the HTTP server with routes, fault injection and a
request log (:mod:`.server`, :mod:`.handler`, :mod:`.faults`, :mod:`.exchange`), and what
both read of media files and write of times (:mod:`.media`, :mod:`.images`, :mod:`.times`)."""

from birdbridge.sandbox.common.exchange import Handler, Request, Response, json_response
from birdbridge.sandbox.common.faults import FAULT_KINDS, FaultRule
from birdbridge.sandbox.common.server import LoggedRequest, SandboxServer

__all__ = [
    "FAULT_KINDS",
    "FaultRule",
    "Handler",
    "LoggedRequest",
    "Request",
    "Response",
    "SandboxServer",
    "json_response",
]
