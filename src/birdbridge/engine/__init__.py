"""Poll, deliver, recover: the steps of DESIGN.md, network-agnostic."""

from birdbridge.engine.link import CycleReport, LinkEngine

__all__ = ["CycleReport", "LinkEngine"]
