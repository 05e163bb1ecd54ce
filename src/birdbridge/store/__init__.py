"""The state database. The only package that writes SQL; the engine calls named operations."""

from sqlalchemy.exc import SQLAlchemyError as DatabaseError

from birdbridge.store.store import Store
from birdbridge.store.values import HELD, DeliveryStatus, InFlight, NewDelivery, as_utc, utcnow

# What the store raises when the database itself fails (a network drop, a full disk).
__all__ = [
    "HELD",
    "DatabaseError",
    "DeliveryStatus",
    "InFlight",
    "NewDelivery",
    "Store",
    "as_utc",
    "utcnow",
]
