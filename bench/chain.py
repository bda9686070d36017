"""The reference-day benchmark: N active contracts due today run the whole chain (invoice,
PDF + XML, e-mail into the SMTP sink, receivable, SEPA debit, pain.008), and in the same
run the bare Temporal ceiling for the same shape. Prints figures; passes or fails nothing.

    .venv/bin/python bench/chain.py --contracts 6000 --workers 2      # make bench N=6000

Everything runs as separate processes in a temporary directory: embedded Postgres, the
Temporal dev server (SQLite), the SMTP sink and K worker processes (devstack/stack.py).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.ext.asyncio import async_sessionmaker  # noqa: E402
from temporalio.client import Client  # noqa: E402

from api.workflow_starts import start_contract_workflow  # noqa: E402
from db.engine import make_engine, make_session_factory  # noqa: E402
from db.models import OutboxMessage, SepaDebit  # noqa: E402
from devstack.fleet import build_sepa_files, seed_fleet  # noqa: E402
from devstack.processes import free_port, spawn, stop  # noqa: E402
from devstack.scratch import scratch_directory  # noqa: E402
from devstack.stack import Stack, cpu_seconds, memory_mb  # noqa: E402
from devstack.temporal import TemporalDevServer  # noqa: E402
from domain.berlin_time import berlin_today  # noqa: E402
from temporal_client import connect  # noqa: E402
from workflows.collection_starts import CollectionStartsWorkflow  # noqa: E402
from workflows.models import CollectionStartsInput, SepaBatchResult  # noqa: E402

BENCH = Path(__file__).resolve().parent
PARTS = ("worker", "temporal", "postgres", "smtp sink")
# Reading PSS walks /proc/<pid>/smaps of every process (Postgres: every backend); sampled
# each poll it cost the driver ~10 % of a core that the measured parts then lacked.
MEMORY_EVERY = 5.0


def progress(label: str, done: int, total: int, started: float) -> None:
    bar = "#" * int(40 * done / max(total, 1))
    rate = done / max(time.monotonic() - started, 1e-9)
    print(f"\r{label:<6} [{bar:<40}] {done}/{total}  {rate:5.1f}/s", end="", flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def drive(
    label: str, n: int, start_one: Callable[[int], Awaitable[None]],
    finished: Callable[[], Awaitable[int]], window: int, concurrency: int,
) -> float:  # fmt: skip
    """Start N chains, at most ``window`` unfinished at a time; returns the wall time.

    All N are due at once; the window only keeps the task queue's backlog bounded: the dev
    server's matching spills a backlog of thousands of tasks to SQLite and slows down
    several-fold (6,000 unpaced bare starts: < 3 chains/s instead of ~19)."""
    semaphore = asyncio.Semaphore(concurrency)

    async def start(i: int) -> None:
        async with semaphore:
            await start_one(i)

    began, started = time.monotonic(), 0
    while (done := await finished()) < n:
        progress(label, done, n, began)
        room = min(n - started, window - (started - done))
        if room > 0:
            await asyncio.gather(*(start(i) for i in range(started, started + room)))
            started += room
        else:
            await asyncio.sleep(0.5)
    progress(label, n, n, began)
    print()
    return time.monotonic() - began


async def put_to_sleep(
    label: str, n: int, start_one: Callable[[int, timedelta], Awaitable[None]], concurrency: int
) -> None:
    """Start N chains asleep until one moment and return at that moment (``--wake
    midnight``): a billing day's timers all fire at 00:00 in workflows that exist, and no
    window paces them. The starts happen before the clock runs; the moment leaves room
    for them (~100 starts/s seen here)."""
    wake = time.time() + 15 + n / 50
    semaphore = asyncio.Semaphore(concurrency)

    async def start(i: int) -> None:
        async with semaphore:
            await start_one(i, timedelta(seconds=wake - time.time()))

    await asyncio.gather(*(start(i) for i in range(n)))
    left = wake - time.time()
    if left < 1:
        raise RuntimeError(f"{label}: the starts ran past the wake-up; lower --concurrency")
    print(f"{label}: {n} asleep, all wake in {left:.0f} s")
    await asyncio.sleep(left)


async def nothing(_: int) -> None:
    """The chains are started already (``put_to_sleep``)."""


async def bare_ceiling(
    work: Path, n: int, workers: int, concurrency: int, window: int, midnight: bool
) -> float:
    """Invoices per second of the no-op chain of workflows (bench/bare.py), on a dev server
    of its own: each measurement starts from an empty SQLite file instead of the chain
    running on the bare run's 2N finished workflows."""
    server = TemporalDevServer(work / "bare" / "temporal.sqlite", free_port(), free_port())
    await asyncio.to_thread(server.start, work / "bare-temporal.log")
    queue = "bare"
    processes = [
        spawn([sys.executable, str(BENCH / "bare.py"), "--address", server.address,
               "--task-queue", queue], log_file=work / "bare.log")
        for _ in range(workers)
    ]  # fmt: skip
    try:
        client = await Client.connect(server.address)

        async def start(i: int, delay: timedelta | None = None) -> None:
            await client.start_workflow(
                "BareContractWorkflow", f"{queue}-{i}", id=f"bare-contract-{i}", task_queue=queue,
                start_delay=delay,
            )  # fmt: skip

        query = "WorkflowType = 'BareContractWorkflow' AND ExecutionStatus = 'Completed'"

        async def finished() -> int:
            return (await client.count_workflows(query)).count

        if midnight:
            await put_to_sleep("bare", n, start, concurrency)
        wall = await drive(
            "bare", n, nothing if midnight else start, finished, n if midnight else window,
            concurrency,
        )  # fmt: skip
        cpu = sum(cpu_seconds(process.pid) for process in processes)
        print(f"bare workers CPU {cpu:.1f} s ({1000 * cpu / n:.0f} ms per invoice)")
    finally:
        for process in processes:
            stop(process)
        server.stop()
    return n / wall


async def statements_per_invoice(factory: async_sessionmaker, n: int, top: int = 60) -> None:
    """What the chain asked of Postgres, per invoice: each statement costs a round trip."""
    async with factory() as session:
        rows = (await session.execute(text(
            "SELECT calls, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) FROM pg_stat_statements"
            " WHERE query NOT ILIKE '%pg_stat_statements%' ORDER BY calls DESC"
        ))).all()  # fmt: skip
        sessions = (await session.execute(text(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        ))).scalar_one()  # fmt: skip
    print(f"\nPostgres statements per invoice: {sum(r[0] for r in rows) / n:.1f} in all")
    print(f"Postgres sessions opened since the database started: {sessions}")
    for calls, query in rows[:top]:
        print(f"  {calls / n:5.2f}  {query}")


async def sweep(client: Client, task_queue: str) -> None:
    """The hourly collection sweep at its worst: nobody has paid, so it starts every
    invoice's workflow (activities/collection_starts.py)."""
    began = time.monotonic()
    result = await client.execute_workflow(
        CollectionStartsWorkflow.run,
        CollectionStartsInput(until=datetime.now(UTC) + timedelta(days=400)),
        id="bench-collection-starts", task_queue=task_queue,
    )  # fmt: skip
    took = time.monotonic() - began
    print(f"collection sweep        {result.started} workflows started, {result.settled} settled"
          f" in {took:.1f} s ({result.started / took:.0f}/s)")  # fmt: skip


async def run(
    n: int, workers: int, concurrency: int, window: int, bare: bool, statements: bool,
    midnight: bool, work: Path, sweep_after: bool = False,
) -> None:  # fmt: skip
    stack = Stack(work, workers=workers, count_statements=statements)
    await asyncio.to_thread(stack.start)
    try:
        settings = stack.settings()
        engine = make_engine(settings.database_url, 5)
        factory = make_session_factory(engine)
        today = berlin_today()
        fleet = await seed_fleet(factory, n, today)
        sepa_count = sum(1 for member in fleet if member.sepa)
        ceiling = (
            await bare_ceiling(stack.work, n, workers, concurrency, window, midnight)
            if bare
            else None
        )

        if statements:
            async with factory() as session, session.begin():
                await session.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
                await session.execute(text("SELECT pg_stat_statements_reset()"))
        stack.start_workers()
        client = await connect(settings)

        async def start(i: int, delay: timedelta | None = None) -> None:
            member = fleet[i]
            await start_contract_workflow(
                client, settings.temporal_task_queue, member.contract, member.state, delay
            )

        if midnight:
            await put_to_sleep("chain", n, start, concurrency)
        pids = stack.pids()
        before = {part: sum(cpu_seconds(pid) for pid in pids[part]) for part in PARTS}
        machine_before = psutil.cpu_times()
        bench_before = time.process_time()
        peak_worker, peak = 0.0, dict.fromkeys(PARTS, 0.0)
        sampled = 0.0
        started = time.monotonic()

        async def finished() -> int:
            """Chains done: mailed, and the debit registered where there is one."""
            nonlocal peak_worker, sampled
            async with factory() as session:
                mailed = (await session.execute(select(func.count()).select_from(OutboxMessage)
                          .where(OutboxMessage.status == "sent"))).scalar_one()  # fmt: skip
                debits = (
                    await session.execute(select(func.count()).select_from(SepaDebit))
                ).scalar_one()
            if time.monotonic() - sampled >= MEMORY_EVERY:
                sampled = time.monotonic()
                for part in PARTS:
                    peak[part] = max(peak[part], sum(memory_mb(pid) for pid in pids[part]))
                peak_worker = max([peak_worker, *(memory_mb(pid) for pid in pids["worker"])])
            return mailed if debits >= sepa_count else min(mailed, n - 1)

        await drive(
            "chain", n, nothing if midnight else start, finished, n if midnight else window,
            concurrency,
        )  # fmt: skip
        files = await build_sepa_files(client, factory, settings.temporal_task_queue)
        wall = time.monotonic() - started
        machine = machine_share(machine_before, psutil.cpu_times())
        pids = stack.pids()
        after = {part: sum(cpu_seconds(pid) for pid in pids[part]) for part in PARTS}
        bench_cpu = time.process_time() - bench_before
        after["worker"] += stack.worker_cpu_gone
        async with factory() as session:
            sent_at = (await session.execute(text(
                "SELECT EXTRACT(EPOCH FROM sent_at - now()) FROM outbox_message WHERE status = 'sent'"
            ))).scalars().all()  # fmt: skip
            db_size = (
                await session.execute(text("SELECT pg_database_size(current_database())"))
            ).scalar_one()
        if statements:
            await statements_per_invoice(factory, n)
        await engine.dispose()
        # due-to-mail: every contract was due when the run started
        finished_ago = time.monotonic() - started
        latencies = [finished_ago + float(x) for x in sent_at]
        sqlite = sum(p.stat().st_size for p in stack.work.glob("temporal.sqlite*"))
        report(n, workers, wall, ceiling, latencies, files, before, after, peak,
               peak_worker, db_size, sqlite, today, machine, bench_cpu)  # fmt: skip
        if sweep_after:
            await sweep(client, settings.temporal_task_queue)
    finally:
        await asyncio.to_thread(stack.stop)


def machine_share(before: Any, after: Any) -> dict[str, float]:
    """Shares of the machine's CPU time: steal (other tenants of the host) and IO wait make
    runs on the same code differ by 10 % and more, so they are printed with the figures.
    ``busy``: CPU seconds the machine spent on anything, to compare with the parts' sum."""
    spent = {field: getattr(after, field) - getattr(before, field) for field in after._fields}
    total = sum(spent.values()) or 1.0
    shares = {field: 100 * spent.get(field, 0.0) / total for field in ("steal", "iowait", "idle")}
    idle = sum(spent.get(field, 0.0) for field in ("steal", "iowait", "idle"))
    return {**shares, "busy": total - idle}


def report(
    n: int, workers: int, wall: float, ceiling: float | None, latencies: list[float],
    files: list[SepaBatchResult], before: dict, after: dict, peak: dict, peak_worker: float, db_size: int,
    sqlite: int, today: date, machine: dict[str, float], bench_cpu: float,
) -> None:  # fmt: skip
    rate = n / wall
    print()
    print(f"billing day {today}: {n} invoices, {workers} worker process(es)")
    print(f"wall time               {wall:.1f} s")
    print(f"invoices per second     {rate:.1f}")
    if ceiling:
        print(f"bare Temporal ceiling   {ceiling:.1f} per second -> ratio {rate / ceiling:.2f}")
    print(f"due-to-mail latency     p50 {percentile(latencies, 0.5):.1f} s, "
          f"p95 {percentile(latencies, 0.95):.1f} s")  # fmt: skip
    debits = sum(built.transactions for built in files)
    print(f"SEPA files              {debits} debits in {len(files)} pain.008")
    for part in PARTS:
        cpu = after[part] - before[part]
        print(f"{part:<10} CPU {cpu:7.1f} s ({1000 * cpu / n:4.0f} ms/invoice)   "
              f"peak PSS {peak[part]:6.0f} MB")  # fmt: skip
    parts = sum(after[part] - before[part] for part in PARTS)
    print(f"{'bench':<10} CPU {bench_cpu:7.1f} s ({1000 * bench_cpu / n:4.0f} ms/invoice)   "
          "this process: its starts (paced) and progress polls")  # fmt: skip
    print(f"all of the above {1000 * (parts + bench_cpu) / n:4.0f} ms/invoice; the machine was busy "
          f"{1000 * machine['busy'] / n:4.0f} ms/invoice (the rest: kernel, other processes)")  # fmt: skip
    print(f"largest worker process  peak PSS {peak_worker:.0f} MB")
    print(f"machine during the run  CPU steal {machine['steal']:.1f} %, IO wait "
          f"{machine['iowait']:.1f} %, idle {machine['idle']:.1f} %")  # fmt: skip
    print(
        f"Postgres DB size        {db_size / 2**20:.0f} MB; Temporal SQLite {sqlite / 2**20:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=6000)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=50, help="parallel workflow starts")
    parser.add_argument("--window", type=int, default=300, help="unfinished chains at most")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare ceiling")
    parser.add_argument(
        "--statements", action="store_true", help="count Postgres statements per invoice"
    )
    parser.add_argument(
        "--wake", choices=("paced", "midnight"), default="paced",
        help="paced: started as due, at most --window unfinished; midnight: all asleep "
        "beforehand, woken at one moment",
    )  # fmt: skip
    parser.add_argument(
        "--sweep", action="store_true",
        help="afterwards, start every invoice's collection as if none were paid",
    )  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the run's files (logs, DBs)")
    options = parser.parse_args()
    with scratch_directory("faktura-bench-", keep=options.keep) as work:
        asyncio.run(
            run(options.contracts, options.workers, options.concurrency, options.window,
                not options.no_bare, options.statements, options.wake == "midnight", work,
                options.sweep)
        )  # fmt: skip


if __name__ == "__main__":
    main()
