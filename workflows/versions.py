"""Old code or new code: by the run's input where it says, by patch markers where not.

``workflow.patched`` costs every run a history marker and an upsert of the
``TemporalChangeVersion`` search attribute: ~2.3 ms of server CPU per patch and run, four
patches in a contract's run (docs/PERFORMANCE.md, fourth round). Runs started or continued
by this code carry ``shape = SHAPE`` in their input, and for them every change listed below
is simply on, without a marker. Runs recorded before (their input has no shape: 0) ask
``workflow.patched`` exactly as before, so every committed history still replays.

A later change is added as a patch with the next shape number: runs of an older shape still
ask ``workflow.patched`` for it, runs of the new shape have it on.
"""

from __future__ import annotations

from temporalio import workflow

SHAPE = 4

# patch id -> the first shape that has the change on without asking
IN_SHAPE = {
    "local-steps": 1,
    "deliver-documents": 1,
    "collect": 1,
    "issue-invoices": 1,
    "new-run-after-change": 1,
    "hand-over-invoices": 1,
    "one-step-hand-over": 1,
    "short-runs": 2,
    "dispute-recheck": 3,
    "cancellation-confirmation": 4,
    "pending-until-start": 4,
}


def patched(patch_id: str) -> bool:
    """``workflow.patched(patch_id)``, unless the run's shape has the change anyway."""
    shape = getattr(workflow.instance(), "shape", 0)
    if shape >= IN_SHAPE[patch_id]:
        return True
    return workflow.patched(patch_id)
