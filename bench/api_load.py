"""API load: a bounded loop on loopback sends N ``POST /v1/contracts`` at C concurrent to a
live API (uvicorn, one process) with its own Postgres and Temporal dev server. Every 20th
request repeats an earlier one (same body, same Idempotency-Key), as a CRM retrying after a
timeout would. Prints latency percentiles, errors, duplicates and the CPU each process
spent per request.

    .venv/bin/python bench/api_load.py --requests 10000 --concurrency 50   # make load

With ``--rate R`` the loop is open: request i is due i / R seconds after the start (still
at most C in flight), and its latency counts from the moment it was due, so time spent
waiting for a free slot is not hidden. That is the latency a CRM sees at R requests/s once
the stack is warm (the first 10 s are not counted); without it the loop is closed and
measures the API saturated (latency = C / throughput).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text  # noqa: E402

from cli import DEMO_CATALOG  # noqa: E402
from db.catalog import read_catalog_file  # noqa: E402
from db.engine import make_engine, make_session_factory  # noqa: E402
from db.models import Contract, WorkflowStart  # noqa: E402
from devstack.children import spawn_api  # noqa: E402
from devstack.processes import free_port, port_open, stop, wait_until  # noqa: E402
from devstack.scratch import scratch_directory  # noqa: E402
from devstack.stack import Stack, cpu_seconds  # noqa: E402
from domain.berlin_time import berlin_today  # noqa: E402

CRM = {"Authorization": "Bearer dev-crm-key"}
ADMIN = {"Authorization": "Bearer dev-admin-key"}
CUSTOMERS = 100
# The open loop's first seconds meet a cold stack (caches, prepared statements, the first
# starts): at 45/s the requests due then took up to 5 s. Their latencies are not counted.
WARM_UP_SECONDS = 10.0


def customer_body(i: int) -> dict[str, Any]:
    return {
        "crm_reference": f"L-C-{uuid.uuid4().hex[:10]}", "kind": "consumer", "name": f"Last {i}",
        "address": {"street": "Lastweg", "house_number": "1", "postcode": "10115",
                    "city": "Berlin", "country": "DE"},
        "email": f"last{i}@example.org", "payment_method": "bank_transfer",
    }  # fmt: skip


async def postgres_sessions(stack: Stack) -> int:
    """Connections Postgres has accepted so far: a pool that churns opens many."""
    engine = make_engine(stack.postgres.url(), 1)
    try:
        async with make_session_factory(engine)() as session:
            return (await session.execute(text(
                "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
            ))).scalar_one()  # fmt: skip
    finally:
        await engine.dispose()


def contract_request(i: int, customers: list[str]) -> tuple[str, dict[str, Any]]:
    body = {
        "crm_reference": f"L-K-{uuid.uuid4().hex[:12]}",
        "customer_id": customers[i % len(customers)],
        "start_date": berlin_today().isoformat(),
        "items": [{"product_code": "hosting-s-monthly", "domain": f"last{i}.de"}],
    }
    return f"load-{uuid.uuid4()}", body


async def run(n: int, concurrency: int, processes: int, rate: float | None, work: Path) -> None:
    stack = Stack(work, workers=0)
    await asyncio.to_thread(stack.start)
    port = free_port()
    api = spawn_api(
        port, stack.work / "api.log", {**os.environ, **stack.env()}, stack.work,
        ["--log-level", "warning", "--no-access-log", "--workers", str(processes)],
    )  # fmt: skip
    try:
        wait_until(lambda: port_open("127.0.0.1", port), timeout=30, what="the API")
        async with contextlib.AsyncExitStack() as clients:
            # One client, one connection per slot: 50 requests sharing one httpx pool waited
            # there up to 4 s before sending a byte (the API idle meanwhile), and the loop
            # counted that as the API's latency (docs/PERFORMANCE.md, API load).
            connections: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
            for _ in range(concurrency):
                connections.put_nowait(
                    await clients.enter_async_context(
                        httpx.AsyncClient(
                            base_url=f"http://127.0.0.1:{port}",
                            limits=httpx.Limits(max_connections=1),
                            timeout=60,
                        )
                    )
                )
            client = await connections.get()  # the set-up's requests
            catalog = read_catalog_file(DEMO_CATALOG).model_dump(mode="json")
            (await client.post("/v1/admin/catalog", json=catalog, headers=ADMIN)).raise_for_status()
            customers = []
            for i in range(CUSTOMERS):
                made = await client.post("/v1/customers", json=customer_body(i), headers=CRM)
                made.raise_for_status()
                customers.append(made.json()["id"])
            requests = []
            for i in range(n):
                repeat = i % 20 == 19
                # a retry of a request answered long ago (a running one would get 409)
                requests.append(
                    requests[i - 400] if repeat and i >= 400 else contract_request(i, customers)
                )
            unique = len({key for key, _ in requests})
            latencies: list[float] = []
            cold: list[float] = []  # the open loop's first seconds
            answers: collections.Counter[int] = collections.Counter()
            timeline: list[tuple[float, float]] = []  # (sent, seconds into the loop; took)
            queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
            for request in requests:
                queue.put_nowait(request)

            async def send(key: str, body: dict[str, Any], since: float) -> None:
                connection = await connections.get()
                try:
                    response = await connection.post(
                        "/v1/contracts", json=body, headers={**CRM, "Idempotency-Key": key}
                    )
                finally:
                    connections.put_nowait(connection)
                took = time.perf_counter() - since
                timeline.append((since - began, took))
                if not rate or since - began >= WARM_UP_SECONDS:
                    latencies.append(took)
                else:
                    cold.append(took)
                answers[response.status_code] += 1

            async def sender() -> None:
                """Closed loop: the next request as soon as the last is answered."""
                while not queue.empty():
                    key, body = queue.get_nowait()
                    await send(key, body, time.perf_counter())

            async def paced(i: int) -> None:
                """Open loop: request i is due i / rate seconds after the start; it waits
                for a free connection (at most ``concurrency`` in flight)."""
                due = began + i / rate  # type: ignore[operator]
                await asyncio.sleep(due - time.perf_counter())
                await send(*requests[i], due)

            connections.put_nowait(client)
            sessions_before = await postgres_sessions(stack)
            parts = {**stack.pids(), "API": [api.pid]}
            before = {part: sum(map(cpu_seconds, pids)) for part, pids in parts.items()}
            loop_before = time.process_time()  # this process alone: its children are the stack
            began, began_at = time.perf_counter(), time.strftime("%H:%M:%S", time.gmtime())
            if rate:
                await asyncio.gather(*(paced(i) for i in range(n)))
            else:
                await asyncio.gather(*(sender() for _ in range(concurrency)))
            wall = time.perf_counter() - began
            cpu = {
                part: sum(map(cpu_seconds, pids)) - before[part]
                for part, pids in parts.items()
                if pids
            }
            cpu["load loop"] = time.process_time() - loop_before
            sessions = await postgres_sessions(stack) - sessions_before - 1  # less its own
        engine = make_engine(stack.postgres.url(), 2)
        async with make_session_factory(engine)() as session:
            contracts = (
                await session.execute(select(func.count()).select_from(Contract))
            ).scalar_one()
            starts = (
                await session.execute(select(func.count()).select_from(WorkflowStart))
            ).scalar_one()
            deferred = (  # not started within the request (api/workflow_starts.py)
                await session.execute(
                    select(func.count()).where(WorkflowStart.last_error.is_not(None))
                )
            ).scalar_one()
        await engine.dispose()
        report(
            n, concurrency, processes, rate, wall, sorted(latencies), answers, unique, contracts,
            starts, sorted(cold),
        )  # fmt: skip
        print(f"left to the relay {deferred} of the starts")
        print(f"stalls           {stalls(timeline) or 'none'} (the loop began {began_at} UTC)")
        print(f"Postgres sessions opened during the loop: {sessions} (each a server process)")
        print("CPU per request  " + ", ".join(
            f"{part} {1000 * seconds / n:.1f} ms" for part, seconds in cpu.items()
        ))  # fmt: skip
    finally:
        stop(api)
        await asyncio.to_thread(stack.stop)


def report(
    n: int, concurrency: int, processes: int, rate: float | None, wall: float,
    latencies: list[float],
    answers: collections.Counter[int], unique: int, contracts: int, starts: int,
    cold: list[float],
) -> None:  # fmt: skip
    def percentiles(sample: list[float]) -> str:
        def at(q: float) -> float:
            return 1000 * sample[min(len(sample) - 1, int(len(sample) * q))]

        return (f"p50 {at(0.5):.0f} ms, p95 {at(0.95):.0f} ms, p99 {at(0.99):.0f} ms, "
                f"max {1000 * sample[-1]:.0f} ms")  # fmt: skip

    errors = sum(count for status, count in answers.items() if status >= 300)
    loop = (
        f"{rate:g} per second, at most {concurrency} in flight"
        if rate
        else f"{concurrency} concurrent"
    )
    print(f"{n} POST /v1/contracts, {loop}, {processes} API process(es)")
    if rate:
        print(f"latency counted for the {len(latencies)} requests due after the first "
              f"{WARM_UP_SECONDS:g} s")  # fmt: skip
    print(f"wall time        {wall:.1f} s ({n / wall:.0f} requests/s)")
    print(f"latency          {percentiles(latencies)}")
    if cold:
        print(f"first {WARM_UP_SECONDS:g} s      {percentiles(cold)} ({len(cold)} requests)")
    print(f"answers          {dict(sorted(answers.items()))}; errors {errors}")
    print(f"distinct requests {unique}; contracts stored {contracts}; workflow starts {starts}")
    print(f"duplicates       {contracts - unique}")


STALL_SECONDS = 1.0


def stalls(timeline: list[tuple[float, float]]) -> str:
    """When the answers slower than STALL_SECONDS were sent, in bursts (sent within a
    second of each other): a server that stalls makes every request in flight slow at
    once, a slow request of its own stands alone."""
    bursts: list[list[tuple[float, float]]] = []
    for sent, took in sorted(t for t in timeline if t[1] > STALL_SECONDS):
        if bursts and sent - bursts[-1][-1][0] <= 1.0:
            bursts[-1].append((sent, took))
        else:
            bursts.append([(sent, took)])
    return "; ".join(
        f"{len(b)} sent at {b[0][0]:.1f}-{b[-1][0]:.1f} s took up to {max(t for _, t in b):.2f} s"
        for b in bursts
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--api-processes", type=int, default=1, help="uvicorn --workers")
    parser.add_argument(
        "--rate", type=float, help="open loop: requests per second (default: closed loop)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the run's files (logs, DB)")
    options = parser.parse_args()
    with scratch_directory("faktura-load-", keep=options.keep) as work:
        asyncio.run(
            run(options.requests, options.concurrency, options.api_processes, options.rate, work)
        )


if __name__ == "__main__":
    main()
