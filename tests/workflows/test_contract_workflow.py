"""ContractWorkflow on the real dev server with time skipping: the billing calendar, catch-up,
plan changes, cancellations, suspension, idempotency. Amounts are computed by hand here."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from db.models import BillingEntry, ContractVersion, ProvisioningRequest
from devstack.smtp_sink import MailSink
from domain.berlin_time import berlin_today
from tests.factories import business_body, contract_body, create_customer
from tests.helpers import auth, eventually, record_history, sent_mails
from workflows.contract import ContractWorkflow
from workflows.models import (
    BillPeriodInput,
    CancelRequest,
    ContractStateView,
    ContractStatus,
    PaymentMethodChanged,
    SuspensionRequest,
)

pytestmark = pytest.mark.usefixtures("catalog", "worker")


async def start_contract(
    api: httpx.AsyncClient,
    env: WorkflowEnvironment,
    start: date,
    items: list[dict[str, Any]],
    customer: dict[str, Any] | None = None,
    **extra: Any,
) -> tuple[str, WorkflowHandle[Any, Any]]:
    customer = customer or await create_customer(api)
    body = contract_body(customer["id"], start_date=start.isoformat(), items=items, **extra)
    response = await api.post("/v1/contracts", json=body, headers=auth("crm"))
    assert response.status_code == 201, response.text
    contract_id = response.json()["id"]
    return contract_id, env.client.get_workflow_handle_for(
        ContractWorkflow.run, f"contract-{contract_id}"
    )


async def entries(
    factory: async_sessionmaker[AsyncSession], contract_id: str
) -> list[BillingEntry]:
    async with factory() as session:
        rows = await session.execute(
            select(BillingEntry)
            .where(BillingEntry.contract_id == uuid.UUID(contract_id))
            .order_by(BillingEntry.id)
        )
        return list(rows.scalars())


async def provisioning_actions(
    factory: async_sessionmaker[AsyncSession], contract_id: str
) -> list[str]:
    """What the platform was asked to do for a contract, in order."""
    async with factory() as session:
        rows = await session.execute(
            select(ProvisioningRequest.action)
            .where(ProvisioningRequest.contract_id == uuid.UUID(contract_id))
            .order_by(ProvisioningRequest.id)
        )
        return list(rows.scalars())


async def state(handle: WorkflowHandle[Any, Any]) -> ContractStateView:
    for _ in range(50):  # right after a skip the server may not answer queries yet
        try:
            return await handle.query(ContractWorkflow.state)
        except Exception:  # noqa: BLE001
            await asyncio.sleep(0.2)
    return await handle.query(ContractWorkflow.state)


async def wait_for_entries(
    factory: async_sessionmaker[AsyncSession], contract_id: str, count: int
) -> list[BillingEntry]:
    return await eventually(lambda: entries(factory, contract_id), lambda e: len(e) >= count, 30)


HOSTING_M = [{"product_code": "hosting-m-monthly", "domain": "beispiel.de"}]


async def test_backdated_contract_catches_up_every_period_in_order(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    today = berlin_today()
    start = (
        date(today.year - 1, today.month, 1)
        if today.day > 1
        else date(today.year - 1, today.month, 2)
    )
    contract_id, handle = await start_contract(api, temporal_env, start, HOSTING_M)
    due_days = []
    day = start
    while day <= today:
        due_days.append(day)
        day = date(day.year + (day.month == 12), day.month % 12 + 1, day.day)
    got = await wait_for_entries(session_factory, contract_id, len(due_days))
    assert [e.billing_date for e in got] == due_days
    # consumer gross list: 9.99 a month, and the first period carries the 9.99 setup fee
    assert [e.total_cents for e in got] == [999 + 999] + [999] * (len(due_days) - 1)
    view = await eventually(lambda: state(handle), lambda v: v.next_billing_date == day)
    assert view.status is ContractStatus.ACTIVE
    assert view.next_billing_date == day
    assert view.periods_billed == len(due_days)
    assert view.runs >= 2  # a year of periods in one run: continued-as-new after it
    await record_history(temporal_env.client, handle.id, "catch-up")


async def test_thirteen_monthly_periods_from_jan_31_of_a_leap_year(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    contract_id, handle = await start_contract(api, temporal_env, date(2028, 1, 31), HOSTING_M)
    await temporal_env.fast_forward(handle, timedelta(days=800))  # 2026-11 -> 2029-02
    got = await wait_for_entries(session_factory, contract_id, 13)
    expected = [
        "2028-01-31", "2028-02-29", "2028-03-31", "2028-04-30", "2028-05-31", "2028-06-30",
        "2028-07-31", "2028-08-31", "2028-09-30", "2028-10-31", "2028-11-30", "2028-12-31",
        "2029-01-31",
    ]  # fmt: skip
    assert [e.billing_date.isoformat() for e in got[:13]] == expected
    periods = [
        (line["service_start"], line["service_end"])
        for e in got[:3]
        for line in e.lines
        if line["kind"] == "recurring"
    ]
    assert periods == [
        ("2028-01-31", "2028-02-29"),
        ("2028-02-29", "2028-03-31"),
        ("2028-03-31", "2028-04-30"),
    ]
    assert await provisioning_actions(session_factory, contract_id) == ["activate"]


async def test_a_run_ends_after_three_billed_periods(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A wake-up replays its run's earlier rounds, so a run lasts three (twelve before the
    patch short-runs): after Jan 31, Feb 29 and Mar 31 the workflow is in its second run,
    however the skip groups the wake-ups."""
    contract_id, handle = await start_contract(api, temporal_env, date(2028, 1, 31), HOSTING_M)
    await temporal_env.fast_forward(handle, virtual(date(2028, 4, 15)))
    await wait_for_entries(session_factory, contract_id, 3)
    view = await eventually(lambda: state(handle), lambda v: v.periods_billed == 3)
    assert view.runs == 2
    assert view.next_billing_date == date(2028, 4, 30)
    await record_history(temporal_env.client, handle.id, "monthly-runs")


def virtual(day: date, hour: int = 12) -> timedelta:
    """How far to fast-forward a freshly started workflow (its clock starts at wall time)."""
    return datetime.combine(day, time(hour), UTC) - datetime.now(UTC)


async def test_yearly_domain_bills_once_a_year(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    items = [{"product_code": "domain-de", "domain": "jahres-domain.de"}]
    contract_id, handle = await start_contract(api, temporal_env, date(2027, 3, 15), items)
    await temporal_env.fast_forward(handle, virtual(date(2028, 6, 1)))
    got = await wait_for_entries(session_factory, contract_id, 2)
    assert [(e.billing_date, e.total_cents) for e in got] == [
        (date(2027, 3, 15), 1188),
        (date(2028, 3, 15), 1188),
    ]
    view = await state(handle)
    assert view.next_billing_date == date(2029, 3, 15)


async def test_upgrade_mid_period_then_downgrade_at_period_end(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    small = [{"product_code": "hosting-s-monthly", "domain": "wechsel.de"}]
    medium = [{"product_code": "hosting-m-monthly", "domain": "wechsel.de"}]
    contract_id, handle = await start_contract(api, temporal_env, date(2027, 5, 1), small)
    await temporal_env.fast_forward(handle, virtual(date(2027, 5, 17)))
    await wait_for_entries(session_factory, contract_id, 1)
    path = f"/v1/contracts/{contract_id}/changes"
    upgrade = await api.post(path, json={"items": medium}, headers=auth("support"))
    assert upgrade.status_code == 200, upgrade.text
    # May 2027 has 31 days; 15 remain from the 17th. S costs 5.99 (price of 2026-07-01), M 9.99.
    credit = -round(599 * 15 / 31)  # -289.84 -> -290
    charge = round(999 * 15 / 31)  # 483.39 -> 483
    answer = upgrade.json()
    assert answer.pop("invoice_number").startswith("RE-2027-")
    assert answer == {
        "upgrade": True,
        "effective_from": "2027-05-17",
        "version": 2,
        "months": [1],
        "prorata_total_cents": credit + charge,
    }
    await temporal_env.fast_forward(handle, timedelta(days=24))  # to June 10
    await wait_for_entries(session_factory, contract_id, 3)
    downgrade = await api.post(path, json={"items": small}, headers=auth("crm"))
    assert downgrade.status_code == 200, downgrade.text
    assert downgrade.json()["upgrade"] is False
    assert downgrade.json()["effective_from"] == "2027-07-01"
    assert downgrade.json()["prorata_total_cents"] == 0
    await temporal_env.fast_forward(handle, timedelta(days=25))  # to July 5
    got = await wait_for_entries(session_factory, contract_id, 4)
    assert [(e.kind, e.billing_date, e.total_cents) for e in got] == [
        ("period", date(2027, 5, 1), 599 + 999),  # with the setup fee
        ("plan_change", date(2027, 5, 17), credit + charge),
        ("period", date(2027, 6, 1), 999),
        ("period", date(2027, 7, 1), 599),
    ]
    history = (await api.get(f"/v1/contracts/{contract_id}/history", headers=auth("crm"))).json()
    assert [(v["reason"], v["valid_from"]) for v in history["versions"]] == [
        ("created", "2027-05-01"),
        ("upgrade", "2027-05-17"),
        ("downgrade", "2027-07-01"),
    ]
    await record_history(temporal_env.client, handle.id, "plan-changes")


async def test_ordinary_cancellation_respects_minimum_term_and_notice(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
    mail_sink: MailSink,
) -> None:
    business = await create_customer(api, business_body())
    items = [{"product_code": "hosting-s-12m", "domain": "laufzeit.de"}]
    contract_id, handle = await start_contract(
        api, temporal_env, date(2027, 1, 1), items, customer=business
    )
    await temporal_env.fast_forward(handle, virtual(date(2027, 11, 15)))
    await wait_for_entries(session_factory, contract_id, 11)
    response = await api.post(
        f"/v1/contracts/{contract_id}/cancellation", json={"kind": "ordinary"}, headers=auth("crm")
    )
    assert response.status_code == 200, response.text
    confirmation = response.json()
    assert confirmation["end_date"] == "2027-12-31"  # notice runs out Dec 15, before Jan 1
    assert confirmation["received_at"].startswith("2027-11-15")
    assert "31.12.2027" in confirmation["confirmation"]
    again = await api.post(
        f"/v1/contracts/{contract_id}/cancellation", json={"kind": "ordinary"}, headers=auth("crm")
    )
    assert again.status_code == 409 and "already cancelled" in again.text
    # §312k: the confirmation in text form, with receipt time and end, to the customer
    msgid = f"<cancellation.{contract_id}@"
    mails = await eventually(
        lambda: asyncio.to_thread(sent_mails, mail_sink, msgid), lambda m: len(m) > 0
    )
    text = mails[0].get_body(("plain",)).get_content()
    assert "Der Vertrag endet mit Ablauf des 31.12.2027." in text
    assert "Kündigung am 15.11.2027 um" in text

    # Past the end (not "until completion": the invoices' own workflows keep running).
    await temporal_env.fast_forward(handle, timedelta(days=60))
    summary = await handle.result()
    assert summary.status is ContractStatus.ENDED
    assert summary.end_date == date(2027, 12, 31)
    got = await entries(session_factory, contract_id)
    assert [e.billing_date.month for e in got] == list(range(1, 13))  # nothing billed for 2028
    assert {e.total_cents for e in got} == {335}  # business net 3.35, grandfathered
    assert await provisioning_actions(session_factory, contract_id) == ["activate", "deprovision"]
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.COMPLETED
    await record_history(temporal_env.client, handle.id, "ordinary-cancellation")
    assert len(sent_mails(mail_sink, msgid)) == 1  # once, through the end and the new run


async def test_consumer_cancels_monthly_after_the_minimum_term(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    items = [{"product_code": "hosting-s-12m", "domain": "verbraucher.de"}]
    contract_id, handle = await start_contract(api, temporal_env, date(2027, 1, 1), items)
    await temporal_env.fast_forward(handle, virtual(date(2028, 3, 10)))
    await wait_for_entries(session_factory, contract_id, 15)
    response = await api.post(
        f"/v1/contracts/{contract_id}/cancellation", json={"kind": "ordinary"}, headers=auth("crm")
    )
    assert response.status_code == 200, response.text
    assert response.json()["end_date"] == "2028-04-10"  # one month, not another twelve
    await temporal_env.fast_forward(handle, timedelta(days=40))
    assert (await handle.result()).end_date == date(2028, 4, 10)
    got = await entries(session_factory, contract_id)
    assert len(got) == 16
    last = got[-1]
    # April 2028 has 30 days; service until Apr 10 inclusive = 10 days of 3.99 (gross, grandfathered)
    assert (last.billing_date, last.total_cents) == (date(2028, 4, 1), round(399 * 10 / 30))
    assert last.lines[0]["service_end"] == "2028-04-11"


async def test_a_contract_cancelled_before_its_start_is_never_activated(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
    mail_sink: MailSink,
) -> None:
    """The cancellation wakes the workflow sleeping until the start; it must not take that
    for the start (older runs activated the contract then, days early)."""
    start = berlin_today() + timedelta(days=10)
    contract_id, handle = await start_contract(api, temporal_env, start, HOSTING_M)
    await eventually(lambda: state(handle), lambda v: v.next_billing_date == start)
    response = await api.post(
        f"/v1/contracts/{contract_id}/cancellation",
        json={"kind": "extraordinary", "end_date": str(start - timedelta(days=1))},
        headers=auth("crm"),
    )
    assert response.status_code == 200, response.text
    # the confirmation goes out now, not on the first day; nothing is activated
    msgid = f"<cancellation.{contract_id}@"
    await eventually(lambda: asyncio.to_thread(sent_mails, mail_sink, msgid), bool)
    assert await provisioning_actions(session_factory, contract_id) == []
    await temporal_env.fast_forward(handle, timedelta(days=11))
    summary = await handle.result()
    assert (summary.status, summary.periods_billed) == (ContractStatus.ENDED, 0)
    assert await provisioning_actions(session_factory, contract_id) == []
    assert await entries(session_factory, contract_id) == []
    assert len(sent_mails(mail_sink, msgid)) == 1
    await record_history(temporal_env.client, handle.id, "pending-cancelled")


async def billed_first_period(
    api: httpx.AsyncClient,
    env: WorkflowEnvironment,
    factory: async_sessionmaker[AsyncSession],
    start: date,
    now: date,
) -> tuple[str, WorkflowHandle[Any, Any]]:
    """A consumer's hosting contract from ``start``, its clock moved on to ``now`` and its
    first period billed."""
    contract_id, handle = await start_contract(api, env, start, HOSTING_M)
    await env.fast_forward(handle, virtual(now))
    await wait_for_entries(factory, contract_id, 1)
    return contract_id, handle


async def test_late_extraordinary_cancellation_credits_the_unused_days(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    contract_id, handle = await billed_first_period(
        api, temporal_env, session_factory, date(2027, 9, 1), date(2027, 9, 20)
    )
    response = await api.post(
        f"/v1/contracts/{contract_id}/cancellation",
        json={"kind": "extraordinary", "end_date": "2027-09-20", "reason": "Sonderkündigung"},
        headers=auth("support"),
    )
    assert response.status_code == 200, response.text
    await temporal_env.fast_forward(handle, timedelta(days=20))
    await handle.result()
    got = await entries(session_factory, contract_id)
    # September has 30 days; 10 days (21st..30th) were paid in advance and are credited.
    assert [(e.kind, e.total_cents) for e in got] == [
        ("period", 999 + 999),
        ("final", -round(999 * 10 / 30)),
    ]


async def test_a_consumer_withdraws_within_fourteen_days_and_gets_back_the_rest(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
    mail_sink: MailSink,
) -> None:
    """§§355, 357a BGB: the contract ends with the day the withdrawal arrives; the days
    served are paid, the set-up fee and the rest come back with the final invoice."""
    contract_id, handle = await billed_first_period(
        api, temporal_env, session_factory, date(2027, 9, 1), date(2027, 9, 10)
    )
    path = f"/v1/contracts/{contract_id}/cancellation"
    with_end = await api.post(
        path, json={"kind": "withdrawal", "end_date": "2027-09-30"}, headers=auth("crm")
    )
    assert with_end.status_code == 422 and "end_date" in with_end.text
    response = await api.post(path, json={"kind": "withdrawal"}, headers=auth("crm"))
    assert response.status_code == 200, response.text
    assert response.json()["end_date"] == "2027-09-10"
    assert "Eingang Ihres Widerrufs am 10.09.2027" in response.json()["confirmation"]
    msgid = f"<cancellation.{contract_id}@"
    mails = await eventually(
        lambda: asyncio.to_thread(sent_mails, mail_sink, msgid), lambda m: len(m) > 0
    )
    assert mails[0]["Subject"].startswith("Widerrufsbestätigung")
    await temporal_env.fast_forward(handle, timedelta(days=5))
    assert (await handle.result()).end_date == date(2027, 9, 10)
    got = await entries(session_factory, contract_id)
    # Served Sep 1..10; back: the 9.99 set-up fee and 20 of 30 days of 9.99 = 6.66.
    assert [(e.kind, e.total_cents) for e in got] == [
        ("period", 999 + 999),
        ("final", -999 - 666),
    ]
    assert await provisioning_actions(session_factory, contract_id) == ["activate", "deprovision"]
    await record_history(temporal_env.client, handle.id, "withdrawal")


async def test_a_withdrawal_comes_too_late_or_from_a_business(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    # concluded Wednesday Sep 1: the period runs out with Wednesday Sep 15
    contract_id, handle = await billed_first_period(
        api, temporal_env, session_factory, date(2027, 9, 1), date(2027, 9, 16)
    )
    late = await api.post(
        f"/v1/contracts/{contract_id}/cancellation", json={"kind": "withdrawal"},
        headers=auth("crm"),
    )  # fmt: skip
    assert late.status_code == 409 and "ended on 2027-09-15" in late.text
    business = await create_customer(api, business_body())
    other, _ = await start_contract(api, temporal_env, berlin_today(), HOSTING_M, business)
    refused = await eventually(
        lambda: api.post(f"/v1/contracts/{other}/cancellation", json={"kind": "withdrawal"},
                         headers=auth("crm")),
        lambda r: r.status_code != 503,
    )  # fmt: skip
    assert refused.status_code == 409 and "only a consumer" in refused.text
    assert (await state(handle)).end is None


async def test_repeated_billing_and_duplicate_signals_have_one_effect(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Any,
) -> None:
    contract_id, handle = await start_contract(api, temporal_env, date(2027, 2, 1), HOSTING_M)
    await temporal_env.fast_forward(handle, virtual(date(2027, 2, 3)))
    first = await wait_for_entries(session_factory, contract_id, 1)

    # The billing step run again (a retry after a lost result) finds its entry.
    from activities.contracts import ContractActivities
    from activities.provisioning import RecordingProvisioner

    activities = ContractActivities(
        session_factory, RecordingProvisioner(session_factory), settings
    )
    again = await activities.bill_period(
        BillPeriodInput(contract_id=contract_id, due=date(2027, 2, 1))
    )
    assert again.entry_id == first[0].id
    assert len(await entries(session_factory, contract_id)) == 1

    suspend = SuspensionRequest(reason="dunning level 3", request_id="dun-1")
    await handle.signal(ContractWorkflow.suspend, suspend)
    await handle.signal(ContractWorkflow.suspend, suspend)
    view = await eventually(lambda: state(handle), lambda v: v.status is ContractStatus.SUSPENDED)
    assert view.status is ContractStatus.SUSPENDED
    await handle.signal(
        ContractWorkflow.resume, SuspensionRequest(reason="paid", request_id="dun-2")
    )
    await eventually(lambda: state(handle), lambda v: v.status is ContractStatus.ACTIVE)

    change = PaymentMethodChanged(payment_method="bank_transfer", request_id="pm-1")
    await handle.signal(ContractWorkflow.payment_method_changed, change)
    view = await eventually(lambda: state(handle), lambda v: v.payment_method == "bank_transfer")
    assert view.payment_method == "bank_transfer"

    cancel = CancelRequest(request_id="crm-batch-7")
    await handle.signal(ContractWorkflow.cancellation_requested, cancel)
    await handle.signal(ContractWorkflow.cancellation_requested, cancel)
    bad = CancelRequest(kind="extraordinary", request_id="crm-batch-8")
    await handle.signal(ContractWorkflow.cancellation_requested, bad)
    view = await eventually(lambda: state(handle), lambda v: len(v.rejected_requests) >= 1)
    assert view.end is not None
    assert [(r.request_id, r.reason) for r in view.rejected_requests] == [
        ("crm-batch-8", "already cancelled to " + str(view.end - timedelta(days=1)))
    ]
    actions = await provisioning_actions(session_factory, contract_id)
    async with session_factory() as session:
        versions = (
            (
                await session.execute(
                    select(ContractVersion.reason).where(
                        ContractVersion.contract_id == uuid.UUID(contract_id)
                    )
                )
            )
            .scalars()
            .all()
        )
    assert actions == ["activate", "suspend", "resume"]
    assert sorted(versions) == ["cancellation", "created"]
    await record_history(temporal_env.client, handle.id, "signals")


async def test_invalid_requests_leave_the_workflow_unchanged(
    api: httpx.AsyncClient, temporal_env: WorkflowEnvironment
) -> None:
    contract_id, handle = await start_contract(api, temporal_env, date(2027, 4, 1), HOSTING_M)
    await temporal_env.fast_forward(handle, virtual(date(2027, 4, 2)))
    await eventually(lambda: state(handle), lambda v: v.status is ContractStatus.ACTIVE)
    before = await state(handle)
    path = f"/v1/contracts/{contract_id}"
    cases = [
        ("/changes", {"items": [{"product_code": "nope"}]}, 422, "items"),
        ("/changes", {"items": []}, 422, "items"),
        ("/cancellation", {"kind": "extraordinary"}, 422, "needs end_date"),
        ("/cancellation", {"kind": "ordinary", "end_date": "2027-05-01"}, 422, "leave it out"),
        (
            "/cancellation",
            {"kind": "extraordinary", "end_date": "2027-03-30"},
            409,
            "end_date lies in the past",
        ),
        ("/cancellation", {"kind": "sometime"}, 422, "kind"),
    ]
    for suffix, body, status, text in cases:
        response = await api.post(path + suffix, json=body, headers=auth("crm"))
        assert (response.status_code, text in response.text) == (status, True), response.text
    after = await state(handle)
    assert after == before
