"""Bank statements in ISO 20022: camt.053 (statement) and camt.054 (notification).

A small namespace-agnostic reader (local names only, so every camt version works) for
what reconciliation needs; each transaction detail becomes one line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from lxml import etree


class CamtError(ValueError):
    """The file is not a usable camt.053/054 statement."""


@dataclass(frozen=True)
class CamtLine:
    entry_ref: str
    amount_cents: int  # credits positive, debits negative
    booking_date: date
    end_to_end_id: str | None
    remittance: str | None
    counterparty_iban: str | None
    counterparty_name: str | None
    return_reason: str | None
    fee_cents: int


@dataclass(frozen=True)
class CamtStatement:
    id: str
    kind: str  # camt.053 | camt.054
    account_iban: str
    opening_cents: int | None
    closing_cents: int | None
    lines: list[CamtLine] = field(default_factory=list)


def _first(node: etree._Element, path: str) -> etree._Element | None:
    found = node.xpath(path)
    return found[0] if found else None


def _text(node: etree._Element | None, path: str) -> str | None:
    if node is None:
        return None
    found = node.xpath(path)
    if not found:
        return None
    value = found[0].text if isinstance(found[0], etree._Element) else str(found[0])
    return value.strip() if value and value.strip() else None


def _local(*names: str) -> str:
    return "/".join(f"*[local-name()='{name}']" for name in names)


def _cents(amount: str | None, where: str) -> int:
    if amount is None:
        raise CamtError(f"missing amount in {where}")
    value = Decimal(amount)
    if value != value.quantize(Decimal("0.01")):
        raise CamtError(f"amount {amount} in {where} has more than two decimals")
    return int(value * 100)


def _signed(node: etree._Element, where: str) -> int:
    cents = _cents(_text(node, _local("Amt")), where)
    indicator = _text(node, _local("CdtDbtInd"))
    if indicator not in ("CRDT", "DBIT"):
        raise CamtError(f"{where}: CdtDbtInd must be CRDT or DBIT")
    return cents if indicator == "CRDT" else -cents


def _balance(statement: etree._Element, codes: tuple[str, ...]) -> int | None:
    for balance in statement.xpath(_local("Bal")):
        code = _text(balance, _local("Tp", "CdOrPrtry", "Cd"))
        if code in codes:
            return _signed(balance, f"balance {code}")
    return None


def parse_camt(content: bytes) -> CamtStatement:
    try:
        root = etree.fromstring(content, parser=etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError as error:
        raise CamtError(f"not XML: {error}") from None
    namespace = etree.QName(root).namespace or ""
    if ".053." in namespace:
        kind, container = "camt.053", "Stmt"
    elif ".054." in namespace:
        kind, container = "camt.054", "Ntfctn"
    else:
        raise CamtError(f"not a camt.053 or camt.054 document ({namespace or 'no namespace'})")
    statements = root.xpath(f"//{_local(container)}")
    if len(statements) != 1:
        raise CamtError(f"expected one {container}, found {len(statements)}")
    statement = statements[0]
    statement_id = _text(statement, _local("Id"))
    iban = _text(statement, _local("Acct", "Id", "IBAN"))
    if not statement_id or not iban:
        raise CamtError(f"{container} needs Id and Acct/Id/IBAN")
    lines: list[CamtLine] = []
    total = 0
    for position, entry in enumerate(statement.xpath(_local("Ntry")), start=1):
        where = f"entry {position}"
        amount = _signed(entry, where)
        total += amount
        reference = (
            _text(entry, _local("NtryRef"))
            or _text(entry, _local("AcctSvcrRef"))
            or hashlib.sha256(etree.tostring(entry)).hexdigest()[:32]
        )
        booked = _text(entry, _local("BookgDt", "Dt")) or _text(entry, _local("BookgDt", "DtTm"))
        if booked is None:
            raise CamtError(f"{where}: BookgDt missing")
        booking_date = date.fromisoformat(booked[:10])
        details = entry.xpath(_local("NtryDtls", "TxDtls"))
        sign = 1 if amount > 0 else -1
        for index, detail in enumerate(details or [entry], start=1):
            own_amount = _text(detail, _local("AmtDtls", "TxAmt", "Amt")) if details else None
            if details and len(details) > 1:
                line_amount = sign * _cents(own_amount or _text(detail, _local("Amt")), where)
            else:
                line_amount = amount
            party = "Cdtr" if amount < 0 else "Dbtr"
            account = _local("RltdPties", f"{party}Acct", "Id", "IBAN")
            fee = _text(detail, _local("Chrgs", "Rcrd", "Amt")) or _text(
                detail, _local("Chrgs", "Amt")
            )
            lines.append(
                CamtLine(
                    entry_ref=reference if len(details) <= 1 else f"{reference}/{index}",
                    amount_cents=line_amount,
                    booking_date=booking_date,
                    end_to_end_id=_nota(_text(detail, _local("Refs", "EndToEndId"))),
                    remittance=" ".join(
                        filter(None, [
                            _text(detail, _local("RmtInf", "Ustrd")),
                            _text(detail, _local("RmtInf", "Strd", "CdtrRefInf", "Ref")),
                        ])
                    ) or None,
                    counterparty_iban=_text(detail, account),
                    counterparty_name=_text(detail, _local("RltdPties", party, "Nm"))
                    or _text(detail, _local("RltdPties", party, "Pty", "Nm")),
                    return_reason=_text(detail, _local("RtrInf", "Rsn", "Cd")),
                    fee_cents=_cents(fee, where) if fee else 0,
                )
            )  # fmt: skip
    opening = _balance(statement, ("OPBD", "PRCD"))
    closing = _balance(statement, ("CLBD",))
    if kind == "camt.053":
        if opening is None or closing is None:
            raise CamtError("camt.053 needs an opening (OPBD/PRCD) and a closing (CLBD) balance")
        if opening + total != closing:
            raise CamtError(
                f"opening {opening} + entries {total} = {opening + total} != closing {closing} "
                "(cents)"
            )
    return CamtStatement(statement_id, kind, iban, opening, closing, lines)


def _nota(value: str | None) -> str | None:
    return None if value in (None, "NOTPROVIDED") else value
