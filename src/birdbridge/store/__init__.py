"""The state database. The only package that writes SQL; the engine calls named operations
and gets frozen values back (store/values.py), never rows."""

from sqlalchemy.exc import SQLAlchemyError as DatabaseError

from birdbridge.store.spend import SpendLine, month_end, month_start
from birdbridge.store.store import Store
from birdbridge.store.values import (
    HELD,
    CredentialSummary,
    Delivery,
    DeliveryKind,
    DeliveryPhase,
    DeliveryStatus,
    InFlight,
    LinkState,
    LinkSummary,
    Mirror,
    NewDelivery,
    StoredCredential,
    as_utc,
    utcnow,
)

# What the store raises when the database itself fails (a network drop, a full disk).
__all__ = [
    "HELD",
    "CredentialSummary",
    "DatabaseError",
    "Delivery",
    "DeliveryKind",
    "DeliveryPhase",
    "DeliveryStatus",
    "InFlight",
    "LinkState",
    "LinkSummary",
    "Mirror",
    "NewDelivery",
    "SpendLine",
    "Store",
    "StoredCredential",
    "as_utc",
    "month_end",
    "month_start",
    "utcnow",
]
