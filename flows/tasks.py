"""Prefect tasks: each wraps one step of kubetune.components.pipeline; none holds logic of its own.

Caching is off: inputs are specs and data handles whose hashing would cost more than the steps, and a
tuning job must never silently reuse an earlier result.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from kubetune.components import pipeline

prepare_data = task(name="prepare-data", cache_policy=NO_CACHE)(pipeline.prepare)
build_space = task(name="search-space", cache_policy=NO_CACHE)(pipeline.resolved_space)
start_study_run = task(name="start-study-run", cache_policy=NO_CACHE)(pipeline.start_study_run)
plan_warm_start = task(name="warm-start", cache_policy=NO_CACHE)(pipeline.warm_start_plan)
run_trials = task(name="run-trials", cache_policy=NO_CACHE)(pipeline.run_search)
refit_and_register = task(name="refit-evaluate-register", cache_policy=NO_CACHE)(
    pipeline.refit_and_register
)
report_study = task(name="study-report", cache_policy=NO_CACHE)(pipeline.report_finished_study)
