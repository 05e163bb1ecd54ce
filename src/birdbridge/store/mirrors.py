"""The mirror map: each published part of a source post and the target post it became."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select

from birdbridge.store.base import NOT_PUBLISHING, StoreBase, mirror_of
from birdbridge.store.tables import DeliveryRow, MirrorRow
from birdbridge.store.values import Delivery, Mirror, utcnow


class MirrorMap(StoreBase):
    """Recording and looking up published parts."""

    def record_part(
        self,
        delivery: Delivery,
        part_index: int,
        target_id: str,
        target_url: str | None,
        now: datetime | None = None,
        *,
        repost_of: str | None = None,
    ) -> None:
        """Record one published part in the mirror map, right after the network call
        (``repost_of``: the part is a native repost of that target post)."""
        now = now or utcnow()
        with self._session() as session:
            session.add(
                MirrorRow(
                    link=delivery.link,
                    source_network=delivery.source_network,
                    source_id=delivery.source_id,
                    part_index=part_index,
                    target_network=delivery.target_network,
                    target_id=target_id,
                    target_url=target_url,
                    created_at=now,
                    repost_of=repost_of,
                )
            )
            session.execute(
                update(DeliveryRow)
                .where(col(DeliveryRow.id) == delivery.id)
                .values(updated_at=now, **NOT_PUBLISHING)
            )

    def mirror_parts(
        self,
        link: str,
        source_network: str,
        source_id: str,
        target_network: str,
        *,
        include_deleted: bool = False,
    ) -> list[Mirror]:
        """The parts a source post became on the target, in order; deleted ones only when
        asked (a deleted target is never replied to or pointed at)."""
        with self._session() as session:
            query = (
                select(MirrorRow)
                .where(
                    MirrorRow.link == link,
                    MirrorRow.source_network == source_network,
                    MirrorRow.source_id == source_id,
                    MirrorRow.target_network == target_network,
                )
                .order_by(col(MirrorRow.part_index))
            )
            if not include_deleted:
                query = query.where(col(MirrorRow.deleted_at).is_(None))
            return [mirror_of(row) for row in session.exec(query)]

    def replace_part(
        self, mirror_id: int, target_id: str, target_url: str | None, now: datetime | None = None
    ) -> None:
        """An edited part got a new id (X gives each version its own): the map follows it."""
        with self._session() as session:
            session.execute(
                update(MirrorRow)
                .where(col(MirrorRow.id) == mirror_id)
                .values(target_id=target_id, target_url=target_url, deleted_at=None)
            )

    def mark_part_deleted(self, mirror_id: int, now: datetime | None = None) -> None:
        """The target post is gone. The row stays (the guard still knows the id was ours);
        its part number moves out of the way (-id) so the post can be published again."""
        with self._session() as session:
            session.execute(
                update(MirrorRow)
                .where(col(MirrorRow.id) == mirror_id)
                .values(deleted_at=now or utcnow(), part_index=-mirror_id)
            )

    def mirror_source(self, link: str, target_network: str, target_id: str) -> Mirror | None:
        """The part whose target is ``target_id`` (which source post it came from)."""
        with self._session() as session:
            row = session.exec(
                select(MirrorRow).where(
                    MirrorRow.link == link,
                    MirrorRow.target_network == target_network,
                    MirrorRow.target_id == target_id,
                )
            ).first()
            return mirror_of(row) if row is not None else None

    def is_mirror_target(self, link: str, network: str, post_id: str) -> bool:
        """True when ``post_id`` on ``network`` is a post birdbridge published (no loops)."""
        with self._session() as session:
            query = select(MirrorRow.id).where(
                MirrorRow.link == link,
                MirrorRow.target_network == network,
                MirrorRow.target_id == post_id,
            )
            return session.exec(query).first() is not None

    def is_our_repost(self, link: str, network: str, reposted_id: str) -> bool:
        """Did birdbridge repost ``reposted_id`` on ``network`` (and not undo it)? The loop
        guard for reposts whose own id the network did not tell."""
        with self._session() as session:
            row = session.exec(
                select(MirrorRow.id).where(
                    MirrorRow.link == link,
                    MirrorRow.target_network == network,
                    MirrorRow.repost_of == reposted_id,
                    col(MirrorRow.deleted_at).is_(None),
                )
            ).first()
            return row is not None

    def mirror_target_ids(self, link: str, target_network: str, since: datetime) -> set[str]:
        """Ids of posts birdbridge published on ``target_network`` since ``since``."""
        with self._session() as session:
            query = select(MirrorRow.target_id).where(
                MirrorRow.link == link,
                MirrorRow.target_network == target_network,
                MirrorRow.created_at >= since,
            )
            return set(session.exec(query))

    def mirrors(self, link: str | None = None) -> list[Mirror]:
        with self._session() as session:
            query = select(MirrorRow).order_by(col(MirrorRow.id))
            if link is not None:
                query = query.where(MirrorRow.link == link)
            return [mirror_of(row) for row in session.exec(query)]
