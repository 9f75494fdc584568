"""The public surface of kubetune.components.execution: what other packages, the flows and users import.

lazy_loader reads this file at import time (see __init__.py); type checkers read it as the package's stub.
"""

from .call_jobs import (
    KubernetesJobBackend as KubernetesJobBackend,
    RemoteCallError as RemoteCallError,
    kubernetes_backend as kubernetes_backend,
)
from .controller import (
    RequestFactory as RequestFactory,
    StudyController as StudyController,
    TrialsSummary as TrialsSummary,
)
from .executor import Executor as Executor
from .fused_group import run_fused_group as run_fused_group
from .kubernetes import ClusterProblem as ClusterProblem, KubernetesExecutor as KubernetesExecutor
from .kubernetes_manifest import render_job as render_job
from .local import LocalExecutor as LocalExecutor
from .packing import (
    PackingPlan as PackingPlan,
    auto_group_size as auto_group_size,
    resolve_mode as resolve_mode,
)
from .pod_entrypoint import read_published as read_published
from .reporting import failure_reason as failure_reason
from .sessions import session_seed as session_seed, start_session as start_session
from .storage import (
    check_storage_url as check_storage_url,
    journal_path as journal_path,
    open_storage as open_storage,
    storage_url as storage_url,
)
from .study_locks import study_lock as study_lock
