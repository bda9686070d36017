"""What a contract's wake-up costs the worker when its run's history must be replayed.

    .venv/bin/python bench/replay_cost.py [N]

On a fleet of a million contracts the worker's cache (1,000 workflows per process by
default) never holds the contract whose billing timer fires: the server sends the run's
whole history and the worker replays every earlier billing round before it runs the new
one. This replays a committed contract history (12 billing rounds in one run, then
continue-as-new) cut after 0, 1, 3, 6 and 11 rounds, N times each, in one unsandboxed
replayer as the worker runs, and prints the worker's CPU time per replayed history, then
what a billing round costs with P rounds per run. It is why a run lasts three billing rounds
(workflows/contract.py, PERIODS_PER_RUN).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.client import WorkflowHistory  # noqa: E402
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner  # noqa: E402

from temporal_client import DATA_CONVERTER  # noqa: E402
from workflows.registry import WORKFLOWS  # noqa: E402

# A run of twelve billing rounds, recorded before the patch short-runs (it still replays).
HISTORY = (
    Path(__file__).resolve().parent.parent
    / "tests/histories/before-short-runs/ordinary-cancellation-2.json"
)
ROUNDS = (0, 1, 3, 6, 11)
# CPU a continue-as-new costs (server ~26 ms, worker ~3-4 ms): paired 900-contract
# `bench/chain.py --wake midnight` runs with a new run after every round (PERFORMANCE.md).
NEW_RUN_MS = 30.0


def after_rounds(history: dict[str, Any], rounds: int) -> dict[str, Any]:
    """The history as a wake-up finds it: up to the workflow task that finished billing
    round ``rounds`` (a round begins with its timer firing)."""
    events, fired = history["events"], 0
    for index, event in enumerate(events):
        fired += event["eventType"] == "EVENT_TYPE_TIMER_FIRED"
        if fired == rounds and event["eventType"] == "EVENT_TYPE_WORKFLOW_TASK_COMPLETED":
            return {"events": events[: index + 1]}
    raise ValueError(f"the history has fewer than {rounds} rounds")


async def replay_cost(replayer: Replayer, history: dict[str, Any], n: int) -> float:
    """Worker CPU (ms) per replayed history; parsing the JSON is not counted."""
    parsed = [WorkflowHistory.from_json(f"contract-{i}", history) for i in range(n)]

    async def each() -> AsyncIterator[WorkflowHistory]:
        for item in parsed:
            yield item

    started = time.process_time()
    async with replayer.workflow_replay_iterator(each()) as results:
        async for result in results:
            if result.replay_failure is not None:
                raise result.replay_failure
    return (time.process_time() - started) / n * 1000


async def main(n: int) -> None:
    history = json.loads(HISTORY.read_text())
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=DATA_CONVERTER,
        workflow_runner=UnsandboxedWorkflowRunner(),  # as worker.py runs them
    )
    await replay_cost(replayer, after_rounds(history, 1), 5)  # warm-up
    print(f"replaying {HISTORY.name} cut after k billing rounds, {n} times each")
    costs = {}
    for rounds in ROUNDS:
        part = after_rounds(history, rounds)
        costs[rounds] = await replay_cost(replayer, part, n)
        extra = (
            f"  ({(costs[rounds] - costs[0]) / rounds:4.1f} ms per earlier round)" if rounds else ""
        )
        print(
            f"  k = {rounds:2d} ({len(part['events']):3d} events)  {costs[rounds]:6.1f} ms{extra}"
        )
    per_round = (costs[ROUNDS[-1]] - costs[0]) / ROUNDS[-1]
    print_trade(per_round)


def print_trade(per_round: float) -> None:
    """Per billing round with P rounds per run, every wake-up missing the cache: the
    replay of (P - 1) / 2 earlier rounds on average, plus a new run's cost over P rounds."""
    print(f"per billing round with P rounds per run (replay {per_round:.1f} ms per earlier "
          f"round measured here; a new run {NEW_RUN_MS:.0f} ms, docs/PERFORMANCE.md):")  # fmt: skip
    for runs in (1, 2, 3, 4, 6, 12):
        replay = (runs - 1) / 2 * per_round
        print(f"  P = {runs:2d}  replay {replay:5.1f} + new run {NEW_RUN_MS / runs:5.1f}"
              f" = {replay + NEW_RUN_MS / runs:5.1f} ms")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
