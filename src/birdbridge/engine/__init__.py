"""Poll, deliver, recover: the steps of docs/architecture.md, network-agnostic."""

from birdbridge.engine.link import CycleReport, LinkEngine

__all__ = ["CycleReport", "LinkEngine"]
