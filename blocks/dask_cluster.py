"""A Dask cluster for send batches and contact normalisation: a running scheduler, or a cluster class that makes
one for each run (tasks/scale_out.py chooses between it and threads)."""

from __future__ import annotations

from typing import Any

from prefect.blocks.core import Block
from prefect.task_runners import TaskRunner
from pydantic import Field


class DaskUnavailable(ImportError):
    """prefect-dask is not installed where the flow runs."""


class DaskCluster(Block):
    _block_type_name = "arpilot dask cluster"
    _block_type_slug = "arpilot-dask-cluster"
    _description = ("A Dask cluster that runs send batches and contact normalisation: a running scheduler's address, "
                    "or a cluster class (dask-kubernetes, dask-gateway) that makes one for each run.")

    address: str | None = Field(None, description="A running scheduler, e.g. tcp://dask-scheduler.dask:8786; "
                                                  "empty: a cluster of cluster_class is made for the run.")
    cluster_class: str = Field("distributed.LocalCluster",
                               description="Made for each run and closed after it, e.g. "
                                           "dask_kubernetes.operator.KubeCluster or dask_gateway.GatewayCluster.")
    cluster_kwargs: dict[str, Any] = Field(default_factory=dict,
                                           description="Passed to cluster_class, e.g. {\"n_workers\": 4} or "
                                                       "{\"name\": \"arpilot\", \"image\": \"...\"}. No secrets here.")
    adapt_kwargs: dict[str, Any] = Field(default_factory=dict,
                                         description="Adaptive scaling of a made cluster, e.g. "
                                                     "{\"minimum\": 1, \"maximum\": 10}; empty: a fixed size.")

    def task_runner(self) -> TaskRunner:
        """Prefect's task runner for this cluster (prefect-dask is imported only when a run asks for Dask)."""
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError:
            raise DaskUnavailable("running on Dask needs prefect-dask: pip install 'arpilot[dask]' in the flow's "
                                  "environment and in the Dask workers' image") from None
        if self.address:
            return DaskTaskRunner(address=self.address)
        return DaskTaskRunner(cluster_class=self.cluster_class, cluster_kwargs=self.cluster_kwargs,
                              adapt_kwargs=self.adapt_kwargs)
