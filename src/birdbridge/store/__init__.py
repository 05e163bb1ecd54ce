"""The state database. The only package that writes SQL; the engine calls named operations."""

from birdbridge.store.store import DeliveryStatus, NewDelivery, Store

__all__ = ["DeliveryStatus", "NewDelivery", "Store"]
