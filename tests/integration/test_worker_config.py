"""The worker is built from the settings that bound its load and choose its sandbox."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from config import Settings
from worker import running_worker


async def test_the_worker_takes_the_slots_and_sandbox_the_settings_name(
    settings: Settings, temporal_env: WorkflowEnvironment
) -> None:
    tuned = settings.model_copy(
        update={"worker_workflow_tasks": 3, "worker_local_activities": 4, "workflow_sandbox": False}
    )
    async with running_worker(tuned, temporal_env.client) as worker:
        config = worker.config()
    assert config["max_concurrent_workflow_tasks"] == 3
    assert config["max_concurrent_local_activities"] == 4
    assert isinstance(config["workflow_runner"], UnsandboxedWorkflowRunner)


async def test_the_tests_run_workflows_in_the_strict_sandbox(
    settings: Settings, temporal_env: WorkflowEnvironment
) -> None:
    async with running_worker(settings, temporal_env.client) as worker:
        assert isinstance(worker.config()["workflow_runner"], SandboxedWorkflowRunner)
