"""Where send batches and contact normalisation run: threads in the flow's own process (the default), or the
worker processes of a Dask cluster, chosen per run by the flows' ``task_runner`` parameter.

Every batch reserves its outbox rows in the warehouse before any provider call, from whatever process runs it, so
exactly once does not depend on where a batch runs. Blocks travel to the workers as values (secrets included:
the workers need them to log in) and each task opens its own warehouse connections there.
"""

from __future__ import annotations

import os

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from blocks import load_block
from blocks.dask_cluster import DaskCluster

THREADS = "threads"
LOCAL_DASK = "dask"
TASK_RUNNER_CHOICES = (f"{THREADS!r} (threads in the flow's process), {LOCAL_DASK!r} (a Dask cluster of one worker "
                       "process per core on this machine, for this run), a Dask scheduler address "
                       "('tcp://scheduler:8786') or an arpilot-dask-cluster block ('arpilot-dask-cluster/NAME')")


class UnknownTaskRunner(ValueError):
    """The task_runner parameter names no way to run tasks arpilot knows."""


def choose_task_runner(choice: str, threads: int) -> TaskRunner:
    """The task runner a ``task_runner`` parameter names; ``threads`` bounds the thread pool of the default."""
    choice = (choice or THREADS).strip()
    if choice == THREADS:
        return ThreadPoolTaskRunner(max_workers=threads)
    if choice == LOCAL_DASK:  # as many batches in flight as the thread pool, spread over one process per core
        cores = os.cpu_count() or 1
        return DaskCluster(cluster_kwargs={"n_workers": cores, "threads_per_worker": -(-threads // cores),
                                           "dashboard_address": None}).task_runner()
    if "://" in choice:
        return DaskCluster(address=choice).task_runner()
    if choice.startswith(f"{DaskCluster.get_block_type_slug()}/"):
        return load_block(choice).task_runner()
    raise UnknownTaskRunner(f"task_runner {choice!r} is none of {TASK_RUNNER_CHOICES}")


def describe_runner(runner: TaskRunner) -> str:
    """Where the tasks of an entered runner run, for the run's log and artifact."""
    if isinstance(runner, ThreadPoolTaskRunner):
        return "threads in the flow's process"
    workers = runner.client.scheduler_info(n_workers=-1)["workers"].values()
    return (f"Dask cluster at {runner.client.scheduler.address} ({len(workers)} worker processes, "
            f"{sum(w['nthreads'] for w in workers)} threads)")
