"""One configuration object for API, worker, CLI and the embedded dev stack.

Every field is read from an environment variable with the prefix ``FAKTURA_``
(nested fields use ``__``, e.g. ``FAKTURA_SELLER__VAT_ID``) or from ``.env``.
``.env.example`` documents each variable.
"""

from __future__ import annotations

import gc
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from schwifty import BIC, IBAN
from stdnum.eu import at_02, vat

PROJECT_ROOT = Path(__file__).resolve().parent


class Role(StrEnum):
    """API roles; ``admin`` may call every route."""

    CRM = "crm"
    SUPPORT = "support"
    FINANCE = "finance"
    ADMIN = "admin"


class SmtpSecurity(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


class Seller(BaseModel):
    """The invoicing legal entity (§14 UStG: full name, address, tax number or VAT ID)."""

    name: str = "faktura Demo Hosting GmbH"
    street: str = "Musterstraße"
    house_number: str = "1"
    postcode: str = "10115"
    city: str = "Berlin"
    country: str = "DE"
    email: str = "billing@faktura.example"
    phone: str = "+49 30 1234567"
    tax_number: str = "30/123/45678"
    vat_id: str = "DE136695976"
    commercial_register: str = "Amtsgericht Berlin-Charlottenburg HRB 123456"
    managing_directors: str = "Erika Mustermann"
    creditor_id: str = "DE98ZZZ09999999999"
    bank_name: str = "Demo Bank"
    iban: str = "DE89370400440532013000"
    bic: str = "COBADEFFXXX"

    @field_validator("vat_id")
    @classmethod
    def _valid_vat_id(cls, value: str) -> str:
        return vat.validate(value)

    @field_validator("creditor_id")
    @classmethod
    def _valid_creditor_id(cls, value: str) -> str:
        return at_02.validate(value)

    @field_validator("iban")
    @classmethod
    def _valid_iban(cls, value: str) -> str:
        return IBAN(value).compact

    @field_validator("bic")
    @classmethod
    def _valid_bic(cls, value: str) -> str:
        return str(BIC(value))


class Accounting(BaseModel):
    """The monthly DATEV export (activities/accounting.py). [StB] The tax advisor names the
    numbers, the chart and the OSS account; the defaults are DATEV's demo consultant."""

    chart: Literal["SKR03", "SKR04"] = "SKR03"
    consultant_number: int = Field(default=1001, ge=1001, le=9_999_999)  # Beraternummer
    client_number: int = Field(default=1, ge=1, le=99_999)  # Mandantennummer
    fiscal_year_start_month: int = Field(default=1, ge=1, le=12)
    # Festschreibung: the advisor's books take each batch as final. Off until the advisor
    # has imported a first batch (reference §5.3); faktura never exports a month twice anyway.
    lock_batches: bool = False
    # EU consumers are taxed where they live (OSS): no default account or tax key exists,
    # so an OSS invoice stops the export until these are set.
    oss_revenue_account: str | None = Field(default=None, pattern=r"^\d{4,8}$")
    oss_tax_key: str | None = Field(default=None, pattern=r"^\d{1,4}$")
    # Off when the bank's statements reach the advisor directly (DATEV Bankdatenservice):
    # the payments would be booked twice.
    export_payments: bool = True

    @field_validator("oss_revenue_account", "oss_tax_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value


ApiKeys = Annotated[list[SecretStr], NoDecode]


class Settings(BaseSettings):
    """Settings shared by API, worker and CLI."""

    model_config = SettingsConfigDict(
        env_prefix="FAKTURA_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    database_url: str = "postgresql+asyncpg://faktura@127.0.0.1:5432/faktura"
    db_pool_size: int = 20  # per process, all kept open (db/engine.py)
    # How long an Idempotency-Key's answer is kept; a retry after that is a new request
    # (db/retention.py, every night).
    idempotency_window_days: int = Field(default=30, ge=1)

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "faktura"
    # Each API process passes on, every 2 s, what its requests committed but could not hand
    # to Temporal (api/relays.py); several processes share the rows safely (SKIP LOCKED).
    api_relay: bool = True
    # Workflows run outside Temporal's sandbox in production (it re-checks and re-imports on
    # every workflow task: ~12 % of a worker's CPU, docs/PERFORMANCE.md). The in-process tests
    # and the replay test run workflows in the strict sandbox, so a clock, IO or random call
    # still fails a test.
    workflow_sandbox: bool = False
    # Work a worker process takes at once. Our workflow tasks run their steps (rendering,
    # mail, SQL) as local activities on one event loop: with the SDK's default of 100 slots a
    # loaded worker took more than it could finish within the 10 s workflow-task timeout,
    # and every timed-out task ran its steps again (docs/PERFORMANCE.md).
    worker_workflow_tasks: int = 10
    worker_local_activities: int = 10

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_security: SmtpSecurity = SmtpSecurity.NONE
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_ca_file: Path | None = None  # CA bundle to verify the server (default: system CAs)
    smtp_timeout_seconds: float = 30.0
    # After this many failed sending attempts (connection refused, timeouts, 4xx; counted
    # on the outbox row, so failures of other steps do not count) the document
    # goes by post; Temporal retries in between with backoff from 2 s up to 5 min.
    smtp_max_attempts: int = 10
    mail_from: str = "faktura Demo Hosting <billing@faktura.example>"

    # Comma-separated keys per role. The defaults are for the local dev stack only.
    api_keys_crm: ApiKeys = Field(default_factory=lambda: [SecretStr("dev-crm-key")])
    api_keys_support: ApiKeys = Field(default_factory=lambda: [SecretStr("dev-support-key")])
    api_keys_finance: ApiKeys = Field(default_factory=lambda: [SecretStr("dev-finance-key")])
    api_keys_admin: ApiKeys = Field(default_factory=lambda: [SecretStr("dev-admin-key")])

    # Number series prefixes: a number is <prefix>-<year>-<7 digits>, at most 20 characters,
    # and DATEV's Belegfeld 1 takes only letters, digits and a few signs.
    invoice_prefix: str = Field(default="RE", pattern=r"^[A-Z]{1,7}$")
    credit_note_prefix: str = Field(default="GS", pattern=r"^[A-Z]{1,7}$")
    payment_terms_days: int = 14  # bank transfer: due this many days after issue
    sepa_debit_lead_days: int = 5  # direct debit: collected this many days after issue

    # Empty: provisioning requests are recorded in the table provisioning_request.
    provisioning_webhook_url: str | None = None
    provisioning_timeout_seconds: float = 10.0

    archive_dir: Path = PROJECT_ROOT / "var" / "archive"
    seller: Seller = Field(default_factory=Seller)
    accounting: Accounting = Field(default_factory=Accounting)

    @field_validator("database_url")
    @classmethod
    def _asyncpg_driver(cls, value: str) -> str:
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            value = "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not value.startswith("postgresql+asyncpg://"):
            raise ValueError("must be a postgresql+asyncpg:// URL")
        return value

    @field_validator(
        "api_keys_crm", "api_keys_support", "api_keys_finance", "api_keys_admin", mode="before"
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    def api_keys(self) -> dict[Role, list[SecretStr]]:
        """Keys per role, as the API's auth checks them."""
        return {
            Role.CRM: self.api_keys_crm,
            Role.SUPPORT: self.api_keys_support,
            Role.FINANCE: self.api_keys_finance,
            Role.ADMIN: self.api_keys_admin,
        }


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()


# Every workflow activation and every API request allocates thousands of short-lived
# objects (protobuf, pydantic): with Python's default first threshold (700) the cycle
# collector ran every few milliseconds, ~9 % of a worker's CPU, and its full collections
# over the API's heap made the slowest answers slower still (docs/PERFORMANCE.md).
# Reference counting frees almost all of them anyway; the collector runs, only less often.
GC_THRESHOLDS = (20_000, 20, 20)


def tune_garbage_collector() -> None:
    """Call once start-up is done: what it loaded lives as long as the process, so the
    collector never scans it again, and it runs less often."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
