"""Request and response bodies of the CRM API, with every check that needs no database."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import idna
from babel import Locale
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationInfo, field_validator
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.de import leitweg
from stdnum.eu import vat
from stdnum.exceptions import ValidationError as StdnumError

REFERENCE = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$"
# SEPA mandate references: at most 35 characters of the SEPA character set.
MANDATE_REFERENCE = re.compile(r"^[A-Za-z0-9+?/\-:().,' ]{1,35}$")
COUNTRIES = frozenset(code for code in Locale("en").territories if re.fullmatch("[A-Z]{2}", code))


class CustomerKind(StrEnum):
    CONSUMER = "consumer"
    BUSINESS = "business"


class PaymentMethod(StrEnum):
    SEPA_DIRECT_DEBIT = "sepa_direct_debit"
    BANK_TRANSFER = "bank_transfer"


class InvoiceChannel(StrEnum):
    EMAIL = "email"
    POSTAL = "postal"


class Language(StrEnum):
    DE = "de"
    EN = "en"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Address(Strict):
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")
    street: str = Field(min_length=1, max_length=70)
    house_number: str = Field(min_length=1, max_length=20)
    postcode: str = Field(min_length=1, max_length=16)
    city: str = Field(min_length=1, max_length=70)

    @field_validator("country")
    @classmethod
    def _iso_country(cls, value: str) -> str:
        value = value.upper()
        if value not in COUNTRIES:
            raise ValueError("not an ISO 3166-1 alpha-2 country code")
        return value

    @field_validator("postcode")
    @classmethod
    def _german_postcode(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("country") == "DE" and not re.fullmatch(r"\d{5}", value):
            raise ValueError("a German postcode has five digits")
        return value


class SepaMandate(Strict):
    iban: str
    bic: str | None = None
    mandate_reference: str
    signed_on: date

    @field_validator("iban")
    @classmethod
    def _iban(cls, value: str) -> str:
        try:
            iban = IBAN(value)
        except SchwiftyException as error:
            raise ValueError(f"invalid IBAN: {error}") from None
        if not iban.in_sepa_zone:
            raise ValueError("the IBAN's country is not in the SEPA zone")
        return iban.compact

    @field_validator("bic")
    @classmethod
    def _bic(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(BIC(value))
        except SchwiftyException as error:
            raise ValueError(f"invalid BIC: {error}") from None

    @field_validator("mandate_reference")
    @classmethod
    def _reference(cls, value: str) -> str:
        if not MANDATE_REFERENCE.fullmatch(value):
            raise ValueError("at most 35 characters of A-Z a-z 0-9 + ? / - : ( ) . , ' space")
        return value

    def bic_or_derived(self) -> str | None:
        """The BIC as given, or the one the IBAN's bank code stands for."""
        if self.bic is not None:
            return self.bic
        derived = IBAN(self.iban).bic
        return str(derived) if derived else None


class CustomerChecks(Strict):
    """The checks a new customer and a change share (the fields are the subclasses')."""

    @field_validator("buyer_reference", check_fields=False)
    @classmethod
    def _leitweg(cls, value: str | None) -> str | None:
        return checked_leitweg(value)

    @field_validator("sepa_mandate", check_fields=False)
    @classmethod
    def _mandate(cls, value: SepaMandate | None, info: ValidationInfo) -> SepaMandate | None:
        return mandate_fits(info.data.get("payment_method"), value)


class CustomerCreate(CustomerChecks):
    crm_reference: str = Field(pattern=REFERENCE)
    kind: CustomerKind
    name: str = Field(min_length=1, max_length=140, description="person or contact name")
    company: str | None = Field(default=None, max_length=140, validate_default=True)
    address: Address
    email: EmailStr
    language: Language = Language.DE
    vat_id: str | None = None
    payment_method: PaymentMethod
    sepa_mandate: SepaMandate | None = Field(default=None, validate_default=True)
    invoice_channel: InvoiceChannel = InvoiceChannel.EMAIL
    buyer_reference: str | None = Field(default=None, description="Leitweg-ID (public sector)")

    @field_validator("company")
    @classmethod
    def _company(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("kind") is CustomerKind.BUSINESS and not value:
            raise ValueError("a business customer needs a company name")
        return value

    @field_validator("vat_id")
    @classmethod
    def _vat_id(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if info.data.get("kind") is CustomerKind.CONSUMER:
            raise ValueError("only business customers have a VAT ID")
        return checked_vat_id(value)


def checked_vat_id(value: str) -> str:
    try:
        return vat.validate(value)
    except StdnumError as error:
        raise ValueError(f"invalid VAT ID: {error}") from None


def checked_leitweg(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return leitweg.validate(value)
    except StdnumError as error:
        raise ValueError(f"invalid Leitweg-ID: {error}") from None


def mandate_fits(method: PaymentMethod | None, mandate: SepaMandate | None) -> SepaMandate | None:
    """A mandate comes with payment_method sepa_direct_debit, and only with it."""
    if method is PaymentMethod.SEPA_DIRECT_DEBIT and mandate is None:
        raise ValueError("SEPA direct debit needs a mandate")
    if method is not PaymentMethod.SEPA_DIRECT_DEBIT and mandate is not None:
        raise ValueError("a mandate belongs to payment_method sepa_direct_debit only")
    return mandate


# Fields a change may not set to null (the others: null clears them).
REQUIRED_ON_CHANGE = ("name", "address", "email", "language", "payment_method", "invoice_channel")


class CustomerChange(CustomerChecks):
    """A change of a customer's data: only the fields sent change (null clears company,
    vat_id, buyer_reference). Kind and CRM reference never change: they set the price list
    and the CRM's key. Issued invoices keep the data they were issued with."""

    name: str | None = Field(default=None, min_length=1, max_length=140)
    company: str | None = Field(default=None, max_length=140)
    address: Address | None = None
    email: EmailStr | None = None
    language: Language | None = None
    vat_id: str | None = None
    payment_method: PaymentMethod | None = None
    sepa_mandate: SepaMandate | None = Field(
        default=None,
        validate_default=True,
        description="a new mandate, with payment_method sepa_direct_debit",
    )
    invoice_channel: InvoiceChannel | None = None
    buyer_reference: str | None = Field(default=None, description="Leitweg-ID (public sector)")

    @field_validator(*REQUIRED_ON_CHANGE)
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be left out, not null")
        return value

    @field_validator("vat_id")
    @classmethod
    def _vat_id(cls, value: str | None) -> str | None:
        return None if value is None else checked_vat_id(value)


class CustomerChangeOut(BaseModel):
    """One recorded change: the fields it set (IBANs masked) and who made it."""

    changes: dict[str, Any]
    recorded_by: str
    recorded_at: datetime


class CustomerOut(BaseModel):
    id: uuid.UUID
    crm_reference: str
    kind: CustomerKind
    name: str
    company: str | None
    address: Address
    email: str
    language: Language
    vat_id: str | None
    payment_method: PaymentMethod
    sepa_mandate: SepaMandate | None
    invoice_channel: InvoiceChannel
    buyer_reference: str | None
    price_list_code: str
    created_at: datetime


def normalise_domain(value: str) -> str:
    """A domain name as IDNA 2008 A-label (``münchen.de`` -> ``xn--mnchen-3ya.de``)."""
    try:
        ascii_name = idna.encode(value.strip().rstrip(".").lower(), uts46=True).decode()
    except idna.IDNAError as error:
        raise ValueError(f"not a valid domain name: {error}") from None
    if ascii_name.count(".") < 1:
        raise ValueError("a domain name needs a label and a TLD")
    return ascii_name


class ContractItemIn(Strict):
    product_code: str = Field(min_length=1, max_length=60)
    quantity: int = Field(default=1, ge=1, le=10_000)
    domain: str | None = Field(default=None, max_length=253)

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        return None if value is None else normalise_domain(value)


class ContractCreate(Strict):
    crm_reference: str = Field(pattern=REFERENCE)
    customer_id: uuid.UUID
    start_date: date = Field(description="may lie in the past for migrated contracts")
    concluded_on: date | None = Field(
        default=None, description="day the contract was signed; defaults to start_date"
    )
    items: list[ContractItemIn] = Field(min_length=1, max_length=50)

    @field_validator("concluded_on")
    @classmethod
    def _concluded(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("start_date")
        if value is not None and start is not None and value > start:
            raise ValueError("a contract is concluded on or before its start date")
        return value


class ContractItemOut(BaseModel):
    product_code: str
    quantity: int
    domain: str | None = None


class ContractVersionOut(BaseModel):
    version: int
    valid_from: date
    items: list[ContractItemOut]
    minimum_term_end: date
    notice_period: str
    renewal_period: str
    end_date: date | None
    reason: str
    recorded_by: str
    recorded_at: datetime


class ContractOut(BaseModel):
    id: uuid.UUID
    crm_reference: str
    customer_id: uuid.UUID
    start_date: date
    concluded_on: date
    status: str
    workflow_id: str
    as_of: date | None = None
    version: ContractVersionOut | None = None


class CancellationRecordOut(BaseModel):
    """The cancellation as recorded (the §312k BGB proof) and how its confirmation went out."""

    kind: str
    received_at: datetime
    end_date: date = Field(description="last day of service (inclusive)")
    reason: str | None
    requested_by: str
    recorded_at: datetime
    confirmation_status: str | None = Field(
        description="sent (e-mail accepted), postal (queued for print), pending or sending; "
        "null until the workflow sends it"
    )
    confirmation_sent_at: datetime | None


class ContractHistoryOut(BaseModel):
    contract_id: uuid.UUID
    versions: list[ContractVersionOut]
    cancellation: CancellationRecordOut | None = None


def fingerprint_source(model: BaseModel) -> dict[str, Any]:
    """The normalised request, so that equivalent bodies have one fingerprint."""
    return model.model_dump(mode="json")


class PlanChangeIn(Strict):
    items: list[ContractItemIn] = Field(min_length=1, max_length=50)


class CancellationIn(Strict):
    kind: str = Field(
        default="ordinary",
        pattern="^(ordinary|extraordinary|withdrawal)$",
        description="withdrawal: a consumer's Widerruf within 14 days, ending on its receipt",
    )
    end_date: date | None = Field(
        default=None, validate_default=True, description="extraordinary: last day of service"
    )
    reason: str | None = Field(default=None, max_length=500)

    @field_validator("end_date")
    @classmethod
    def _end_date_fits_the_kind(cls, value: date | None, info: ValidationInfo) -> date | None:
        kind = info.data.get("kind")
        if kind == "extraordinary" and value is None:
            raise ValueError("an extraordinary cancellation needs end_date")
        if kind == "ordinary" and value is not None:
            raise ValueError("an ordinary cancellation ends when the terms allow; leave it out")
        if kind == "withdrawal" and value is not None:
            raise ValueError("a withdrawal ends on the day it arrives; leave it out")
        return value


class CancellationOut(BaseModel):
    """The confirmation §312k BGB asks for: receipt time, contract, end date. With 202 the
    receipt alone: the end date follows by e-mail once the workflow has recorded it."""

    contract_id: uuid.UUID
    crm_reference: str
    kind: str
    received_at: datetime
    end_date: date | None = Field(description="last day of service; null with 202")
    confirmation: str
