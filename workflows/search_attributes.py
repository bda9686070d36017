"""Custom search attributes: how support filters contracts and invoices in the Temporal UI.

Values are stored unencrypted by Temporal, so they carry opaque ids and states only,
never personal data.
"""

from temporalio.common import SearchAttributeKey

CONTRACT_STATUS = SearchAttributeKey.for_keyword("ContractStatus")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
NEXT_BILLING_DATE = SearchAttributeKey.for_datetime("NextBillingDate")
DUNNING_LEVEL = SearchAttributeKey.for_int("DunningLevel")
INVOICE_STATUS = SearchAttributeKey.for_keyword("InvoiceStatus")

ALL = [CONTRACT_STATUS, CUSTOMER_ID, NEXT_BILLING_DATE, DUNNING_LEVEL, INVOICE_STATUS]

_CLI_TYPE_NAMES = {
    "KEYWORD": "Keyword",
    "DATETIME": "Datetime",
    "INT": "Int",
    "TEXT": "Text",
    "BOOL": "Bool",
    "FLOAT": "Double",
    "KEYWORD_LIST": "KeywordList",
}


def dev_server_args() -> list[str]:
    """``--search-attribute NAME=Type`` arguments for ``temporal server start-dev``."""
    args: list[str] = []
    for key in ALL:
        args += ["--search-attribute", f"{key.name}={_CLI_TYPE_NAMES[key.indexed_value_type.name]}"]
    return args
