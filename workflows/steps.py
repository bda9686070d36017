"""Running an activity as a local or a remote step.

Short database steps, rendering and the SMTP hand-off run as *local* activities: they
execute inside the workflow task, so the server records one marker instead of scheduling,
dispatching and completing a task (three round trips). Histories recorded before the
patch ``local-steps`` ran them as remote activities and replay that way.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from workflows import versions

LOCAL_STEPS = "local-steps"


def local_steps() -> bool:
    """True for runs (or the parts of runs) made after local steps were introduced."""
    return versions.patched(LOCAL_STEPS)


async def run_step(name: str, arg: Any, options: dict[str, Any], result_type: Any = None) -> Any:
    """Execute activity ``name`` locally (new runs) or remotely (old histories)."""
    if local_steps():
        return await workflow.execute_local_activity(name, arg, result_type=result_type, **options)
    return await workflow.execute_activity(name, arg, result_type=result_type, **options)
