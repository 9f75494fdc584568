"""Running trials: the study controller (ask, hand to an executor, tell), the executors (local worker
processes, Kubernetes Jobs) behind one base class, the shared study storage, heartbeats, re-queues of
trials lost to infrastructure, the budget lock, and what a worker or a trial pod runs.

Data plane (production mode)
----------------------------

```
            KUBETUNE_STORAGE_URL=postgresql://...      MLFLOW_TRACKING_URI=http://mlflow:5000
controller ─────────────── PostgreSQL (Optuna RDB) ◄──── heartbeats ──── workers / pods
    │  ask / tell, budget lock (pg_advisory_lock), stale check                 │
    ├──── MLflow server (PostgreSQL backend, S3 artifact root, proxied) ◄──────┤ (child runs via controller)
    └──── S3: s3://<artifacts>/<study>/<fingerprint>/train.parquet ───────────► read by each trial (ETag-checked)
```

- **Storage** (`components/execution/storage.py`): `storage.url` or `KUBETUNE_STORAGE_URL` (wins). PostgreSQL gets
  Optuna's heartbeats (`storage.heartbeat_interval`, `storage.grace_period`, default 10 s / 30 s) and the
  stale-trial callback `kubetune.components.execution.requeue.requeue_stale_trial`, so *any* controller sharing the study fails
  and re-queues a trial whose worker, pod or node is gone. Local journal files have no heartbeats: one
  controller per journal study, which reconciles every RUNNING trial when it starts.
- **Heartbeats** (`components/execution/heartbeat.py`): the controller records the first beat at submit, and keeps
  beating for trials its executor reports as `starting()` -- handed to a local replacement worker that
  is still importing, or a pod still Pending (a GPU node scaling up, a large image pulling) -- so a slow
  start is not taken for a lost worker; if the controller dies too, those beats stop and the trial goes
  stale as before. A local worker still importing after `STARTUP_TIMEOUT_S` (600 s: a hung network mount
  or GPU driver) is killed and its trial failed ("did not finish starting"), trial timeout or not, so a
  stuck start is never waited on for ever. Once running, the worker beats from a thread and, in the local pool,
  keeps beating until the controller sends its next message, i.e. until the result has been told — a
  finished trial waiting in the pipe must not look abandoned. A hung worker (SIGSTOP, frozen node) stops
  beating and is failed through the heartbeat; a killed worker is seen at once by the executor.
- **Re-runs** (`components/execution/requeue.py`): a trial lost to infrastructure (worker died, heartbeat stale,
  interrupted) is enqueued again with the same parameters; the successor carries `kubetune.retry_of` and
  `kubetune.attempt`, up to `search.max_retries` (default 2; user interruptions don't use attempts). A
  failed trial with a successor does not count against `n_trials`. Only the controller whose
  RUNNING -> FAIL transition wins (`requeue.tell_once`) re-queues, so a lost trial never gets two successors.
- **Budget across controllers** (`components/execution/budget_lock.py`): "count, then ask" runs under a PostgreSQL
  advisory lock keyed by the study, so two controllers never overshoot `n_trials`; the count is two SQL
  COUNTs against the database (`requeue.study_budget_used`), past Optuna's per-process trial cache, not a
  scan of every trial.
- **Database restarts** (`components/core/transient.py`): controller storage calls are retried with backoff
  (up to 120 s) when the cause chain shows a lost connection; `pool_pre_ping` replaces dead connections.
- **Artifacts** (`components/data/artifacts.py`): `artifacts.uri` or `KUBETUNE_ARTIFACT_URI` (wins):
  s3://bucket/prefix. Prepared data is written content-addressed (`<study>/<fingerprint>/`), so a new
  data version never overwrites what running trials read. Endpoint: `KUBETUNE_S3_ENDPOINT_URL` (or
  `AWS_ENDPOINT_URL[_S3]`, `MLFLOW_S3_ENDPOINT_URL`). Credentials: boto3's chain only.
- **Preflight** (`components/pipeline/endpoints.py`, `components/pipeline/preflight_checks.py`): the MLflow server answers an
  authenticated API call, the artifact bucket is reachable with the credentials, PostgreSQL accepts a
  connection — else one line naming the endpoint (password redacted) and exit 2, before any run exists.
  Data checks (`preflight.check_data`) also ask a family that constrains the feature count
  (`check_features`, today `torch_cnn`'s `image_shape`) on all-numeric data, so a shape the features
  cannot form stops the job there instead of failing every trial. A family's `row_bounded` parameters
  (k-NN's `n_neighbors`) cannot exceed the rows a model is fitted on (`preflight.smallest_fit_rows`: the
  training part of the smallest cross-validation split, mirroring the held-out split and scikit-learn's
  splitters): `space.resolve_space` clips them in the default space, so small data gets a space that
  fits, and a space or fixed value the user wrote beyond them is a one-line error. Parameter names
  (`preflight.check_parameter_names`): the family builds its estimator once with a representative value
  of every searched and fixed parameter -- the call each trial makes -- and a name it does not take
  ("unexpected keyword argument") is a one-line error with the closest real name, instead of the same
  TypeError in every trial or pod; any other error from that build is left to the trials that draw it.
  `preflight.checked_space` (the space fitted to the rows, then this check) is what the CLI's preflight,
  the dry run and the flow's `search-space` task all call, so a deployment that runs the flow without
  the CLI stops there too, before the study's parent run exists. Columns that name rows
  (`data.identifier_columns`: text distinct in every row, or whole numbers counting the rows) are not an
  error -- a code with one row per value may be meant -- but `DataFacts.identifier_columns` carries them,
  and `validate` and the flow's `start-study-run` say them in one warning line (`preflight.identifier_notice`).

Kubernetes executor
-------------------

```
controller (kubetune tune, executor.kind: kubernetes)
  ├─ render_job(settings, request) ── pure ──► batch/v1 Job (one pod), validated against 1.30 and 1.37 schemas
  ├─ BatchV1Api.create_namespaced_job            (409 = already there: never a duplicate)
  ├─ one pod watch per study: label selector kubetune.io/study=<slug-hash>, resourceVersion resume,
  │   re-list on 410 Gone, timeout on every call
  └─ outcome from the pod ──► Succeeded: the TrialResult the pod published to the study storage
                              Failed, exit 3: the trial's error (reason from the last log lines)
                              OOMKilled: failed, reason says so
                              DisruptionTarget / Evicted / Preempted: retryable → same params again
                              ErrImagePull, CreateContainerConfigError (missing Secret),
                              Unschedulable > unschedulableTimeout, or scheduled but not
                              started > startTimeout (a volume that never mounts): ClusterProblem,
                              the study stops early with one line (exit 1), its Jobs deleted
pod: python -m kubetune.components.execution.pod_entrypoint
  request from KUBETUNE_TRIAL_REQUEST (no credentials), KUBETUNE_STORAGE_URL from a Secret (secretKeyRef),
  heartbeat while running, run_trial (same code as local), publish result → study storage
```

- **Job shape** (`executors/kubernetes_manifest.py`): labels for study and trial, `ttlSecondsAfterFinished`,
  `activeDeadlineSeconds` from `search.trial_timeout`, `backoffLimit: 0` (kubetune re-runs lost trials
  itself, with the same parameters and `search.max_retries`), a `podFailurePolicy` that fails the Job at
  once on a disruption or a non-zero exit so the controller can tell them apart; non-root, read-only root
  filesystem, no privilege escalation, all capabilities dropped, no service-account token, RuntimeDefault
  seccomp; `nodeSelector`, `tolerations`, `affinity`, `priorityClassName`, `imagePullSecrets`,
  resources including `nvidia.com/gpu`. Plain settings go in `env`, credentials only in `secretEnv`
  (secretKeyRef); a credential-looking name in `env` is a spec error.
- **Settings checked when the spec is read** (`components/spec/kubernetes_settings.py`, pure, called by
  `KubernetesSpec`'s validators): quantities parse with the client's `parse_quantity`, requests do not
  exceed limits, a device resource (`nvidia.com/gpu`) is whole and limited; namespace, Secret,
  ServiceAccount, PriorityClass and label names follow apimachinery's rules; tolerations and affinity are
  walked against the client's models (`V1Toleration`, `V1Affinity`) for unknown or misshapen fields,
  then the toleration rules (operator, effect, `tolerationSeconds`). Without it a misspelt toleration
  field would be dropped by the API server's default field validation and the pods would wait
  unschedulable; the rest would be a 422 on the first Job, after the study began.
- **Results travel through the study storage**, not logs: the pod writes its TrialResult into the trial's
  system attribute `kubetune.result`; the controller tells the study and writes the MLflow child run from
  it. Pods therefore need no MLflow credentials (least privilege), and MLflow keeps a single writer.
- **Cancel / Ctrl-C / end of study** delete the study's Jobs with `propagationPolicy: Background`; the
  garbage collector removes their pods (the controller's Role has no pod delete).
- **Restarted controller** (`StudyController._adopt`): Jobs of the study still in the cluster are adopted
  (their trials are RUNNING with fresh heartbeats) instead of being created again; Jobs of trials already
  finished are deleted.
- **Requirements**: a study storage pods reach (PostgreSQL) and an artifact store pods read (S3 or a
  mounted path); preflight refuses otherwise. `kubetune tune SPEC --dry-run` prints the first Job.
- **RBAC** (`k8s/base/rbac.yaml`, and the chart's `controller-rbac.yaml`): a namespaced Role — jobs create/get/list/watch/delete, pods
  get/list/watch, pods/log get; nothing cluster-wide.
- **Images** (`infra/`, built by `infra/build-images.sh`, `make images`): both Dockerfiles install every
  package from `build/wheelhouse` with `pip --no-index` (the host's pip fills it from constraints.txt;
  dependencies in one layer, kubetune's wheel in the last), on `BASE_IMAGE` (public
  `python:3.11-slim-bookworm`, or the local debootstrapped bookworm whose own Python is 3.11). The trial
  image's entrypoint is `python -m kubetune.components.execution.pod_entrypoint`; `TORCH=cuda` puts PyPI's CUDA torch into it
  (no CUDA base image: the wheel carries the runtime). The controller image has no ENTRYPOINT -- the
  Prefect worker sets only `args: [prefect, flow-run, execute]` -- and carries `flows/` and prefect.yaml at
  /app, where prefect.yaml's pull step looks for the flow. Its root filesystem is read-only in the chart, so
  the flows write prepared data under `$KUBETUNE_WORKDIR` (the pod's /tmp).

Test double: `tests/k8s/fake_api.py` is a stateful API server over real HTTP (uid, resourceVersion,
creationTimestamp, generateName, label selectors, chunked watch streams with resume and 410 after
compaction, status subresources, merge patches, pod logs with `follow`, Background cascade, an audit log;
Jobs, pods, Events, Secrets and ConfigMaps, namespaced and all-namespace paths, API discovery). With
`tls=True` it serves HTTPS and authenticates ServiceAccount bearer tokens, authorizing each request by the
Roles loaded from the rendered chart (a Role never grants a cluster-scope request) and answering 403 as
kube-apiserver does, so in-cluster clients (the official client, kubernetes_asyncio, kopf) run their real
code paths. `tests/k8s/kubelet.py` is the Job controller, the kubelet and the TTL-after-finished
controller: it turns each Job into a pod, resolves env (secretKeyRef, configMapKeyRef, envFrom, `$(VAR)`)
from test Secrets or the API server's, streams the log and writes status back through the official client.
Its container runtime (`tests/k8s/container_runtime.py`) is either a local process (the integration tests)
or the image itself (`BuildahRuntime`, the platform test): ENTRYPOINT/CMD overridden by command/args, the
image's env under the manifest's, workingDir, the user from securityContext or the image's USER
(runAsNonRoot refused for root), fsGroup, a read-only root filesystem with emptyDir, Secret, ConfigMap and
ServiceAccount-token volumes, /etc/hosts naming the chart's Services, and the host's network; a buildah
working container is mounted and entered by `tests/k8s/container_init.py` in its own mount and PID
namespaces (`buildah run` cannot make the root read-only). Failures are injected per Job: OOM, eviction,
unschedulable, image pull error. kmock 0.8 was the suggested base, but it lacks label selectors,
resourceVersion/410, status PUT, cascade and logs — filling all of those amounted to writing this server.
"""

import lazy_loader

# The names below are this package's public surface, listed in __init__.pyi (which type checkers read);
# each module is imported on first use, so importing the package costs nothing it does not need.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
