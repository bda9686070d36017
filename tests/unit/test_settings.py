"""Settings: every variable is documented, and bad values are refused with the reason."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from config import PROJECT_ROOT, Accounting, Seller, Settings
from devstack.run import DevStack


def documented() -> set[str]:
    lines = (PROJECT_ROOT / ".env.example").read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}


def test_env_example_documents_every_variable() -> None:
    nested = {"seller": Seller, "accounting": Accounting}
    expected = {f"FAKTURA_{name.upper()}" for name in Settings.model_fields if name not in nested}
    for prefix, model in nested.items():
        expected |= {f"FAKTURA_{prefix.upper()}__{name.upper()}" for name in model.model_fields}
    expected |= {f"FAKTURA_DEV_{name.upper()}" for name in DevStack.model_fields}
    assert documented() == expected


def test_api_keys_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKTURA_API_KEYS_FINANCE", "one, two")
    keys = Settings(_env_file=None).api_keys_finance
    assert [key.get_secret_value() for key in keys] == ["one", "two"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("vat_id", "DE123"), ("creditor_id", "DE98ZZZ09999999990"), ("iban", "DE00123")],
)
def test_seller_identifiers_are_checked(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match=field):
        Seller(**{field: value})


def test_database_url_must_be_postgres() -> None:
    with pytest.raises(ValidationError, match="postgresql"):
        Settings(_env_file=None, database_url="sqlite:///x.db")
    assert Settings(_env_file=None, database_url="postgresql://u@h/db").database_url == (
        "postgresql+asyncpg://u@h/db"
    )


@pytest.mark.parametrize("prefix", ["R-E", "re", "RECHNUNG", ""])
def test_a_number_prefix_fits_the_number_and_datevs_belegfeld(prefix: str) -> None:
    with pytest.raises(ValidationError, match="invoice_prefix"):
        Settings(_env_file=None, invoice_prefix=prefix)
