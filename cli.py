"""The ``faktura`` command line: catalog loading, demo data, bank files, the accounting
export, the local mail sink."""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import json
import sys
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from config import PROJECT_ROOT, get_settings
from domain.berlin_time import berlin_today

DEMO_CATALOG = PROJECT_ROOT / "catalog" / "demo.yaml"


async def _load_catalog(path: Path) -> None:
    from db.catalog import load_catalog, read_catalog_file
    from db.engine import make_engine, make_session_factory

    doc = read_catalog_file(path)
    engine = make_engine(get_settings().database_url, pool_size=1)
    try:
        async with make_session_factory(engine)() as session, session.begin():
            result = await load_catalog(session, doc)
    finally:
        await engine.dispose()
    print(result.model_dump_json(indent=2))


async def _import_bank_file(content: bytes) -> None:
    from db.bank import import_statement
    from db.engine import make_engine, make_session_factory
    from temporal_client import connect, deliver_bookings

    settings = get_settings()
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        factory = make_session_factory(engine)
        async with factory() as session, session.begin():
            statement, new_lines, booked = await import_statement(session, content, "cli")
        await deliver_bookings(
            await connect(settings), settings.temporal_task_queue, booked, factory
        )
    finally:
        await engine.dispose()
    print(f"{statement.kind} {statement.id}: {new_lines} new lines, {len(booked)} booked")


async def _export_accounting() -> None:
    from activities.accounting import AccountingExporter
    from db.engine import make_engine, make_session_factory

    settings = get_settings()
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        exporter = AccountingExporter(make_session_factory(engine), settings)
        exported = await exporter.export_ended_months(berlin_today(), datetime.now(UTC))
    finally:
        await engine.dispose()
    for month in exported:
        print(f"{month.month:%Y-%m}: {month.bookings} bookings ({month.late} late) {month.path}")
    if not exported:
        print("every ended month is exported")


def _call(api: str, path: str, key: str, body: Any | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{api}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def demo_customers(today: date) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """A handful of demo customers with contracts; some backdated so invoices appear at once."""
    base = {"language": "de", "invoice_channel": "email"}
    sepa = {
        "payment_method": "sepa_direct_debit",
        "sepa_mandate": {
            "iban": "DE02120300000000202051",
            "mandate_reference": "DEMO-MANDATE-001",
            "signed_on": "2024-01-15",
        },
    }
    return [
        (
            {
                **base,
                **sepa,
                "crm_reference": "DEMO-C-1001",
                "kind": "consumer",
                "name": "Max Mustermann",
                "email": "max@example.org",
                "address": {
                    "street": "Hauptstraße",
                    "house_number": "5",
                    "postcode": "10115",
                    "city": "Berlin",
                    "country": "DE",
                },
            },
            [
                {
                    "crm_reference": "DEMO-K-1001",
                    "start_date": (today - timedelta(days=75)).isoformat(),
                    "items": [
                        {"product_code": "hosting-m-monthly", "domain": "mustermann.de"},
                        {"product_code": "domain-de", "domain": "mustermann.de"},
                    ],
                }
            ],
        ),
        (
            {
                **base,
                "payment_method": "bank_transfer",
                "crm_reference": "DEMO-C-1002",
                "kind": "business",
                "name": "Petra Schmidt",
                "company": "Schmidt Webdesign GmbH",
                "vat_id": "DE136695976",
                "email": "buchhaltung@schmidt-webdesign.example",
                "address": {
                    "street": "Königsallee",
                    "house_number": "12a",
                    "postcode": "40212",
                    "city": "Düsseldorf",
                    "country": "DE",
                },
            },
            [
                {
                    "crm_reference": "DEMO-K-1002",
                    "start_date": (today - timedelta(days=400)).isoformat(),
                    "items": [
                        {"product_code": "hosting-l-12m", "domain": "schmidt-webdesign.de"},
                        {"product_code": "mailbox-extra", "quantity": 5},
                    ],
                }
            ],
        ),
        (
            {
                **base,
                "payment_method": "bank_transfer",
                "crm_reference": "DEMO-C-1003",
                "kind": "business",
                "name": "Jan de Vries",
                "company": "De Vries Hosting B.V.",
                "vat_id": "NL004495445B01",
                "email": "finance@devries.example",
                "language": "en",
                "address": {
                    "street": "Keizersgracht",
                    "house_number": "100",
                    "postcode": "1015 AA",
                    "city": "Amsterdam",
                    "country": "NL",
                },
            },
            [
                {
                    "crm_reference": "DEMO-K-1003",
                    "start_date": today.isoformat(),
                    "items": [
                        {"product_code": "hosting-s-monthly", "domain": "devries.com"},
                        {"product_code": "domain-com", "domain": "devries.com"},
                        {"product_code": "ssl-dv-yearly", "domain": "devries.com"},
                    ],
                }
            ],
        ),
    ]


def load_demo(api: str) -> None:
    """Load the demo catalog and create the demo customers and contracts through the API."""
    from db.catalog import read_catalog_file

    settings = get_settings()
    admin = settings.api_keys_admin[0].get_secret_value()
    crm = settings.api_keys_crm[0].get_secret_value()
    doc = read_catalog_file(DEMO_CATALOG).model_dump(mode="json")
    status, body = _call(api, "/v1/admin/catalog", admin, doc)
    if status != 200:
        sys.exit(f"demo catalog refused ({status}): {body}")
    for customer, contracts in demo_customers(berlin_today()):
        status, created = _call(api, "/v1/customers", crm, customer)
        if status not in (200, 201):
            sys.exit(f"demo customer refused ({status}): {created}")
        for contract in contracts:
            status, body = _call(
                api, "/v1/contracts", crm, {**contract, "customer_id": created["id"]}
            )
            if status not in (200, 201):
                sys.exit(f"demo contract refused ({status}): {body}")
    print("demo catalog, customers and contracts loaded")


def list_mails(directory: Path) -> None:
    for path in sorted(directory.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        print(f"{path.name}  {message['To']}  {message['Subject']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="faktura")
    commands = parser.add_subparsers(dest="command", required=True)
    catalog = commands.add_parser("catalog").add_subparsers(dest="action", required=True)
    load = catalog.add_parser("load", help="load a catalog YAML file (idempotent)")
    load.add_argument("file", type=Path)
    demo = commands.add_parser("demo").add_subparsers(dest="action", required=True)
    demo_load = demo.add_parser("load", help="demo catalog, customers and contracts via the API")
    demo_load.add_argument("--api", default="http://127.0.0.1:8000")
    bank = commands.add_parser("bank").add_subparsers(dest="action", required=True)
    bank_import = bank.add_parser("import", help="import a camt.053/camt.054 file (idempotent)")
    bank_import.add_argument("file", type=Path)
    accounting = commands.add_parser("accounting").add_subparsers(dest="action", required=True)
    accounting.add_parser(
        "export", help="a DATEV booking batch for every ended month not exported yet"
    )
    mails = commands.add_parser("mails", help="list the mails the local SMTP sink received")
    mails.add_argument("--dir", type=Path, default=PROJECT_ROOT / "var" / "mail")
    options = parser.parse_args(argv)

    if options.command == "catalog":
        asyncio.run(_load_catalog(options.file))
    elif options.command == "demo":
        load_demo(options.api)
    elif options.command == "bank":
        asyncio.run(_import_bank_file(options.file.read_bytes()))
    elif options.command == "accounting":
        asyncio.run(_export_accounting())
    elif options.command == "mails":
        list_mails(options.dir)


if __name__ == "__main__":
    main()
