"""Every ``kubetune.*`` name kubetune writes outside itself, in one place.

These names are an interface: MLflow searches, the meta-store, dashboards and users' scripts filter on
the tags; a resumed study reads back the Optuna attributes an earlier run wrote; ``kubectl`` selects
trial Jobs by the labels. Renaming one breaks what was recorded before, so they are spelled only here.
"""

from __future__ import annotations

# -- MLflow tags on a study's parent run ------------------------------------------------------------------
STUDY_TAG = "kubetune.study"
ROLE_TAG = "kubetune.role"  # study, trial or refit
# the retraining pipeline a study belongs to (warm_start: same_pipeline)
PIPELINE_TAG = "kubetune.pipeline"
SOURCE_TAG = "kubetune.source"  # what ran the study: absent for the CLI and flows, KubetuneSearchCV
DATA_TAG = "kubetune.data_fingerprint"  # the data the study was tuned on
REFIT_TAG = "kubetune.refit_run_id"  # the study's refit run
REGISTERED_TAG = "kubetune.registered_model"  # the registry name of the study's model
# also an Optuna trial attribute: why a trial or study failed
FAILURE_REASON = "kubetune.failure_reason"
# what may be wrong with the data but may be meant, one per line
DATA_WARNINGS_TAG = "kubetune.data_warnings"
VERSION_PREFIX = "kubetune.version."  # + package name: the versions that ran the study
# the run has its meta-store record (a readable file)
META_STORE_RECORD_TAG = "kubetune.meta_store_record"
SAMPLER_STARTUP_TAG = "kubetune.sampler.startup_trials"
SAMPLER_RANDOM_FROM_TAG = "kubetune.sampler.random_from_trial"
SAMPLER_RANDOM_EVERY_TAG = "kubetune.sampler.random_every"
# sampler: auto handed the study from the GP to TPE (kubetune.components.search.cost_aware_sampler): the
# trial it did so at (also a study attribute, so a resumed study keeps it) and why, with the figures
SAMPLER_SWITCHED_AT_ATTR = "kubetune.sampler.switched_at_trial"
SAMPLER_SWITCH_TAG = "kubetune.sampler.switch"
WARM_MODE_TAG = "kubetune.warm_start.mode"
WARM_USED_TAG = "kubetune.warm_start.used"
WARM_N_CONFIGS_TAG = "kubetune.warm_start.n_configs"
WARM_NARROWED_TAG = "kubetune.warm_start.narrowed"
PARETO_SIZE_TAG = "kubetune.pareto.size"
SELECTION_TAG = "kubetune.selection"  # several objectives: the rule's reason for the refitted trial
SELECTED_TRIAL_TAG = "kubetune.selected_trial"
PBT_BEST_MEMBER_TAG = "kubetune.pbt.best_member"
PBT_BEST_TRIAL_TAG = "kubetune.pbt.best_trial"
# the analysis stage (kubetune.components.analysis): how the refitted configuration was chosen among the
# finalists, and what the significance tests said, in words
ANALYSIS_SELECTION_TAG = "kubetune.analysis.selection"
ANALYSIS_SIGNIFICANCE_TAG = "kubetune.analysis.significance"
ANALYSIS_SUMMARY_TAG = "kubetune.analysis.summary"  # "tuned 0.971 [0.955, 0.985] vs default ..."
FINALIST_TAG = "kubetune.finalist"  # on a finalist's run: "trial 12" or "default"
PROMOTION_DECISION_TAG = "kubetune.promotion.decision"
PROMOTION_REASON_TAG = "kubetune.promotion.reason"
PROMOTION_ALIAS_TAG = "kubetune.promotion.alias"
PROMOTION_CHALLENGER_TAG = "kubetune.promotion.challenger_version"
PROMOTION_CHAMPION_TAG = "kubetune.promotion.champion_version"

# -- MLflow artifacts kubetune reads back --------------------------------------------------------------------
# on a refit run: hashes of the rows it trained on
TRAINING_ROWS_ARTIFACT = "refit/training_rows.json"
# on a study's parent run: every figure of the analysis stage, which `kubetune report` renders
ANALYSIS_ARTIFACT = "analysis/analysis.json"
REPORT_ARTIFACT = "report.html"

# -- MLflow tags on a trial's run ---------------------------------------------------------------------------
TRIAL_NUMBER_TAG = "kubetune.trial_number"
TRIAL_STATE_TAG = "kubetune.trial_state"
BEST_TRIAL_TAG = "kubetune.best_trial"  # "true" on the run of the trial the refit used
PRUNED_STEP_TAG = "kubetune.pruned_at_step"
STEP_UNIT_TAG = "kubetune.step_unit"
# executor.packing: the group a trial ran in, how (processes | fused) and with how many members; also
# Optuna trial attributes, so a restarted controller knows which trials share a worker
PACKING_GROUP = "kubetune.packing.group"
PACKING_MODE = "kubetune.packing.mode"
PACKING_SIZE = "kubetune.packing.size"
# an Optuna trial attribute: the trial ran out of memory packed with others; its re-run runs alone
PACKING_ALONE = "kubetune.packing.alone"
DEVICE_TAG = "kubetune.device"  # where a trial trained: cpu, cuda:<name>

# -- Optuna study attributes (a resumed study reads them back) ----------------------------------------------
SPACE_FINGERPRINT_ATTR = "kubetune.space_fingerprint"
DATA_FINGERPRINT_ATTR = "kubetune.data_fingerprint"  # the data the study's trials were scored on
WARM_TRIALS_ATTR = "kubetune.warm_trials"  # how many first trials the warm start enqueued
# controllers that have opened the study (their seeds differ)
SESSIONS_ATTR = "kubetune.controller_sessions"
NARROWED_SPACE_ATTR = "kubetune.narrowed_space"  # the box a narrowed study searches
PBT_INTERVAL_ATTR = "kubetune.pbt.interval"  # epochs per round, fixed when a PBT study began

# -- Optuna trial attributes --------------------------------------------------------------------------------
MLFLOW_RUN_ID_ATTR = "kubetune.mlflow_run_id"
CONTROLLER_ATTR = "kubetune.controller"  # the controller that asked for the trial
# + controller id, a study attr: its last beat (epoch s)
CONTROLLER_BEAT_PREFIX = "kubetune.controller_alive."
INTERRUPTED_ATTR = "kubetune.interrupted"
RESULT_ATTR = "kubetune.result"  # what a trial pod publishes for its controller
RETRY_OF = "kubetune.retry_of"
ATTEMPT = "kubetune.attempt"
RETRY_REASON = "kubetune.retry_reason"
MAX_RETRIES_ATTR = "kubetune.max_retries"
WARM_START_PREFIX = "kubetune.warm_start."  # a warm-start trial's provenance; a re-run keeps it
WARM_SOURCE_RUN = f"{WARM_START_PREFIX}source_run_id"
WARM_SOURCE_STUDY = f"{WARM_START_PREFIX}source_study"
WARM_KIND = f"{WARM_START_PREFIX}kind"
# a population member's round: member, generation, checkpoints, lineage
PBT_PREFIX = "kubetune.pbt."
PBT_MEMBER = f"{PBT_PREFIX}member"
PBT_GENERATION = f"{PBT_PREFIX}generation"
PBT_PARENT_MEMBER = f"{PBT_PREFIX}copied_from_member"
PBT_PARENT_TRIAL = f"{PBT_PREFIX}copied_from_trial"
PBT_COPIED_AT = f"{PBT_PREFIX}copied_at_epoch"
PBT_EXPLOITED = f"{PBT_PREFIX}exploited"
PBT_CHECKPOINT_IN = f"{PBT_PREFIX}checkpoint_in"
PBT_CHECKPOINT_OUT = f"{PBT_PREFIX}checkpoint_out"

# -- Kubernetes labels and annotations on trial Jobs --------------------------------------------------------
LABEL_STUDY = "kubetune.io/study"
LABEL_TRIAL = "kubetune.io/trial"
ANNOTATION_STUDY = "kubetune.io/study-name"
# a packed trial Job: the trial numbers of its members, comma-separated (its trial label is the first's)
ANNOTATION_MEMBERS = "kubetune.io/members"
