"""Writing and reading the audit trail. Services add rows; the unit of work commits them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from veiligheid_flow.audit.models import AuditEntry


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def entry_values(
    *,
    at: datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
    rule_ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """An audit row as plain values, for batched inserts."""
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "before": _plain(before),
        "after": _plain(after),
        "reason": reason,
        "rule_ids": list(rule_ids) if rule_ids else None,
    }


def record(
    *,
    session: Session,
    at: datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
    rule_ids: Sequence[str] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        **entry_values(
            at=at,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            before=before,
            after=after,
            reason=reason,
            rule_ids=rule_ids,
        )
    )
    session.add(entry)
    return entry


def entries(
    *,
    session: Session,
    object_type: str | None = None,
    object_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
    about: ColumnElement[bool] | None = None,
) -> list[AuditEntry]:
    """Entries in order; `about` narrows them further (e.g. to one municipality's objects)."""
    query = select(AuditEntry).order_by(AuditEntry.id)
    if about is not None:
        query = query.where(about)
    if object_type:
        query = query.where(AuditEntry.object_type == object_type)
    if object_id:
        query = query.where(AuditEntry.object_id == object_id)
    if action:
        query = query.where(AuditEntry.action.startswith(action))
    if since:
        query = query.where(AuditEntry.at >= since)
    if limit:
        query = query.order_by(None).order_by(AuditEntry.id.desc()).limit(limit)
        return list(reversed(session.scalars(query).all()))
    return list(session.scalars(query).all())


def page_of(
    *, session: Session, where: Sequence[ColumnElement[bool]], limit: int, page: int
) -> tuple[list[AuditEntry], int]:
    """Page `page` (1 = the newest) of `limit` entries matching every condition in `where`,
    oldest first within the page, and the number of matching entries."""
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
    query = (
        select(AuditEntry)
        .where(*where)
        .order_by(AuditEntry.id.desc())
        .offset((page - 1) * limit)
        .limit(limit)
    )
    return list(reversed(session.scalars(query).all())), total
