"""The public surface of kubetune.components.core: what other packages, the flows and users import.

lazy_loader reads this file at import time (see __init__.py); type checkers read it as the package's stub.
"""

from .errors import (
    KubetuneError as KubetuneError,
)
from .errors import (
    SettingError as SettingError,
)
from .errors import (
    SpecError as SpecError,
)
from .errors import (
    StudyConflictError as StudyConflictError,
)
from .interrupts import DeferredInterrupt as DeferredInterrupt
from .names import (
    ANNOTATION_STUDY as ANNOTATION_STUDY,
)
from .names import (
    ATTEMPT as ATTEMPT,
)
from .names import (
    DATA_FINGERPRINT_ATTR as DATA_FINGERPRINT_ATTR,
)
from .names import (
    DATA_TAG as DATA_TAG,
)
from .names import (
    FAILURE_REASON as FAILURE_REASON,
)
from .names import (
    INTERRUPTED_ATTR as INTERRUPTED_ATTR,
)
from .names import (
    LABEL_STUDY as LABEL_STUDY,
)
from .names import (
    LABEL_TRIAL as LABEL_TRIAL,
)
from .names import (
    MAX_RETRIES_ATTR as MAX_RETRIES_ATTR,
)
from .names import (
    META_STORE_RECORD_TAG as META_STORE_RECORD_TAG,
)
from .names import (
    MLFLOW_RUN_ID_ATTR as MLFLOW_RUN_ID_ATTR,
)
from .names import (
    NARROWED_SPACE_ATTR as NARROWED_SPACE_ATTR,
)
from .names import (
    PARETO_SIZE_TAG as PARETO_SIZE_TAG,
)
from .names import (
    PBT_BEST_MEMBER_TAG as PBT_BEST_MEMBER_TAG,
)
from .names import (
    PBT_BEST_TRIAL_TAG as PBT_BEST_TRIAL_TAG,
)
from .names import (
    PBT_CHECKPOINT_IN as PBT_CHECKPOINT_IN,
)
from .names import (
    PBT_CHECKPOINT_OUT as PBT_CHECKPOINT_OUT,
)
from .names import (
    PBT_COPIED_AT as PBT_COPIED_AT,
)
from .names import (
    PBT_EXPLOITED as PBT_EXPLOITED,
)
from .names import (
    PBT_GENERATION as PBT_GENERATION,
)
from .names import (
    PBT_INTERVAL_ATTR as PBT_INTERVAL_ATTR,
)
from .names import (
    PBT_MEMBER as PBT_MEMBER,
)
from .names import (
    PBT_PARENT_MEMBER as PBT_PARENT_MEMBER,
)
from .names import (
    PBT_PARENT_TRIAL as PBT_PARENT_TRIAL,
)
from .names import (
    PBT_PREFIX as PBT_PREFIX,
)
from .names import (
    PIPELINE_TAG as PIPELINE_TAG,
)
from .names import (
    PROMOTION_ALIAS_TAG as PROMOTION_ALIAS_TAG,
)
from .names import (
    PROMOTION_CHALLENGER_TAG as PROMOTION_CHALLENGER_TAG,
)
from .names import (
    PROMOTION_CHAMPION_TAG as PROMOTION_CHAMPION_TAG,
)
from .names import (
    PROMOTION_DECISION_TAG as PROMOTION_DECISION_TAG,
)
from .names import (
    PROMOTION_REASON_TAG as PROMOTION_REASON_TAG,
)
from .names import (
    PRUNED_STEP_TAG as PRUNED_STEP_TAG,
)
from .names import (
    REFIT_TAG as REFIT_TAG,
)
from .names import (
    REGISTERED_TAG as REGISTERED_TAG,
)
from .names import (
    RESULT_ATTR as RESULT_ATTR,
)
from .names import (
    RETRY_OF as RETRY_OF,
)
from .names import (
    RETRY_REASON as RETRY_REASON,
)
from .names import (
    ROLE_TAG as ROLE_TAG,
)
from .names import (
    SAMPLER_RANDOM_EVERY_TAG as SAMPLER_RANDOM_EVERY_TAG,
)
from .names import (
    SAMPLER_RANDOM_FROM_TAG as SAMPLER_RANDOM_FROM_TAG,
)
from .names import (
    SAMPLER_STARTUP_TAG as SAMPLER_STARTUP_TAG,
)
from .names import (
    SELECTED_TRIAL_TAG as SELECTED_TRIAL_TAG,
)
from .names import (
    SELECTION_TAG as SELECTION_TAG,
)
from .names import (
    SPACE_FINGERPRINT_ATTR as SPACE_FINGERPRINT_ATTR,
)
from .names import (
    STEP_UNIT_TAG as STEP_UNIT_TAG,
)
from .names import (
    STUDY_TAG as STUDY_TAG,
)
from .names import (
    TRIAL_NUMBER_TAG as TRIAL_NUMBER_TAG,
)
from .names import (
    TRIAL_STATE_TAG as TRIAL_STATE_TAG,
)
from .names import (
    VERSION_PREFIX as VERSION_PREFIX,
)
from .names import (
    WARM_KIND as WARM_KIND,
)
from .names import (
    WARM_MODE_TAG as WARM_MODE_TAG,
)
from .names import (
    WARM_N_CONFIGS_TAG as WARM_N_CONFIGS_TAG,
)
from .names import (
    WARM_NARROWED_TAG as WARM_NARROWED_TAG,
)
from .names import (
    WARM_SOURCE_RUN as WARM_SOURCE_RUN,
)
from .names import (
    WARM_SOURCE_STUDY as WARM_SOURCE_STUDY,
)
from .names import (
    WARM_START_PREFIX as WARM_START_PREFIX,
)
from .names import (
    WARM_TRIALS_ATTR as WARM_TRIALS_ATTR,
)
from .names import (
    WARM_USED_TAG as WARM_USED_TAG,
)
from .optuna_private import (
    CHECKED_OPTUNA as CHECKED_OPTUNA,
)
from .optuna_private import (
    heartbeat_enabled as heartbeat_enabled,
)
from .optuna_private import (
    in_distribution as in_distribution,
)
from .optuna_private import (
    rdb_engine as rdb_engine,
)
from .optuna_private import (
    rdb_models as rdb_models,
)
from .optuna_private import (
    storage_of as storage_of,
)
from .optuna_private import (
    study_id_of as study_id_of,
)
from .optuna_private import (
    trial_id_of as trial_id_of,
)
from .records import (
    EvaluationTarget as EvaluationTarget,
)
from .records import (
    PBTRound as PBTRound,
)
from .records import (
    TrialRequest as TrialRequest,
)
from .records import (
    TrialResult as TrialResult,
)
from .records import (
    TrialState as TrialState,
)
from .redact import (
    error_reason as error_reason,
)
from .redact import (
    masked_password_problem as masked_password_problem,
)
from .redact import (
    redact_mapping as redact_mapping,
)
from .redact import (
    redact_text as redact_text,
)
from .redact import (
    redact_url as redact_url,
)
from .transient import retry_transient as retry_transient
