"""Importing camt.053/054 statements: once per statement and entry, matched and booked."""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import BankLine, BankStatement
from db.receivables import Booked, book_line, match
from documents.camt import parse_camt


async def import_statement(
    session: AsyncSession, content: bytes, actor: str
) -> tuple[BankStatement, int, list[Booked]]:
    """Store new lines, match and book them; returns the statement, the number of new lines
    and the bookings. Lines seen before (same statement id and entry reference) are skipped."""
    parsed = parse_camt(content)
    await session.execute(
        insert(BankStatement)
        .values(id=parsed.id, kind=parsed.kind, account_iban=parsed.account_iban,
                opening_cents=parsed.opening_cents, closing_cents=parsed.closing_cents,
                sha256=hashlib.sha256(content).hexdigest(), imported_by=actor)
        .on_conflict_do_nothing()
    )  # fmt: skip
    statement = await session.get(BankStatement, parsed.id, with_for_update=True)
    assert statement is not None
    new_lines: list[BankLine] = []
    for item in parsed.lines:
        inserted = await session.execute(
            insert(BankLine)
            .values(statement_id=parsed.id, entry_ref=item.entry_ref,
                    amount_cents=item.amount_cents, booking_date=item.booking_date,
                    end_to_end_id=item.end_to_end_id, remittance=item.remittance,
                    counterparty_iban=item.counterparty_iban,
                    counterparty_name=item.counterparty_name,
                    return_reason=item.return_reason, fee_cents=item.fee_cents)
            .on_conflict_do_nothing()
            .returning(BankLine.id)
        )  # fmt: skip
        line_id = inserted.scalar_one_or_none()
        if line_id is not None:
            line = await session.get(BankLine, line_id)
            assert line is not None
            new_lines.append(line)
    booked: list[Booked] = []
    for line in new_lines:
        found = await match(session, line)
        if found is None:
            continue
        result = await book_line(session, line, *found)
        if result is not None:
            booked.append(result)
    return statement, len(new_lines), booked


async def count_unmatched(session: AsyncSession, statement_id: str) -> int:
    rows = await session.execute(
        select(func.count())
        .select_from(BankLine)
        .where(BankLine.statement_id == statement_id, BankLine.status == "unmatched")
    )
    return int(rows.scalar_one())
