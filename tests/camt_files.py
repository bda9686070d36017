"""camt.053 / camt.054 files as a bank would send them, for tests (the bank is outside)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

NS53 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
NS54 = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"


@dataclass
class Entry:
    amount_cents: int  # positive credit, negative debit (a return)
    booked: date
    end_to_end_id: str | None = None
    remittance: str | None = None
    iban: str | None = None
    name: str | None = None
    return_reason: str | None = None
    fee_cents: int = 0
    ref: str | None = None


def _amount(cents: int) -> str:
    return f"{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _entry(entry: Entry) -> str:
    indicator = "CRDT" if entry.amount_cents > 0 else "DBIT"
    party = "Dbtr" if entry.amount_cents > 0 else "Cdtr"
    refs = (
        f"<Refs><EndToEndId>{entry.end_to_end_id}</EndToEndId></Refs>"
        if entry.end_to_end_id
        else ""
    )
    parties = ""
    if entry.iban or entry.name:
        parties = (
            f"<RltdPties><{party}><Pty><Nm>{entry.name or ''}</Nm></Pty></{party}>"
            f"<{party}Acct><Id><IBAN>{entry.iban or ''}</IBAN></Id></{party}Acct></RltdPties>"
        )
    remittance = f"<RmtInf><Ustrd>{entry.remittance}</Ustrd></RmtInf>" if entry.remittance else ""
    returned = (
        f"<RtrInf><Rsn><Cd>{entry.return_reason}</Cd></Rsn></RtrInf>" if entry.return_reason else ""
    )
    charges = (
        f'<Chrgs><Rcrd><Amt Ccy="EUR">{_amount(entry.fee_cents)}</Amt>'
        "<CdtDbtInd>DBIT</CdtDbtInd></Rcrd></Chrgs>"
        if entry.fee_cents
        else ""
    )
    ref = entry.ref or uuid.uuid4().hex[:16]
    return (
        f"<Ntry><NtryRef>{ref}</NtryRef><Amt Ccy=\"EUR\">{_amount(entry.amount_cents)}</Amt>"
        f"<CdtDbtInd>{indicator}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
        f"<BookgDt><Dt>{entry.booked.isoformat()}</Dt></BookgDt>"
        f"<ValDt><Dt>{entry.booked.isoformat()}</Dt></ValDt>"
        f"<BkTxCd><Domn><Cd>PMNT</Cd></Domn></BkTxCd>"
        f"<NtryDtls><TxDtls>{refs}{charges}{parties}{remittance}{returned}</TxDtls></NtryDtls></Ntry>"
    )  # fmt: skip


def camt053(
    statement_id: str,
    entries: list[Entry],
    opening_cents: int = 100_000,
    iban: str = "DE89370400440532013000",
    closing_cents: int | None = None,
) -> bytes:
    closing = (
        opening_cents + sum(e.amount_cents for e in entries)
        if closing_cents is None
        else closing_cents
    )
    balance = (
        '<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{amount}'
        "</Amt><CdtDbtInd>{ind}</CdtDbtInd><Dt><Dt>2026-01-01</Dt></Dt></Bal>"
    )
    body = (
        f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Document xmlns=\"{NS53}\"><BkToCstmrStmt>"
        f"<GrpHdr><MsgId>{statement_id}-msg</MsgId><CreDtTm>2026-01-01T00:00:00</CreDtTm></GrpHdr>"
        f"<Stmt><Id>{statement_id}</Id><Acct><Id><IBAN>{iban}</IBAN></Id></Acct>"
        + balance.format(code="OPBD", amount=_amount(opening_cents), ind="CRDT" if opening_cents >= 0 else "DBIT")
        + balance.format(code="CLBD", amount=_amount(closing), ind="CRDT" if closing >= 0 else "DBIT")
        + "".join(_entry(e) for e in entries)
        + "</Stmt></BkToCstmrStmt></Document>"
    )  # fmt: skip
    return body.encode()


def camt054(
    notification_id: str, entries: list[Entry], iban: str = "DE89370400440532013000"
) -> bytes:
    body = (
        f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Document xmlns=\"{NS54}\"><BkToCstmrDbtCdtNtfctn>"
        f"<GrpHdr><MsgId>{notification_id}-msg</MsgId><CreDtTm>2026-01-01T00:00:00</CreDtTm></GrpHdr>"
        f"<Ntfctn><Id>{notification_id}</Id><Acct><Id><IBAN>{iban}</IBAN></Id></Acct>"
        + "".join(_entry(e) for e in entries)
        + "</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"
    )  # fmt: skip
    return body.encode()
