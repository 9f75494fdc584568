"""``kubetune tune SPEC --dry-run``: the Job the first trial would get, without contacting anything.

The data is read (to check it and to know where its prepared copy would live); the first configuration
comes from the same sampler, seeded, on an in-memory study. With ``executor.packing`` the Job is the
first group's: K configurations asked one after the other, a fused group's structure drawn by its first
member, as the controller asks them (``trials: auto`` starts with one trial alone, so that Job is
printed). No cluster, database or tracking server is contacted and nothing is written.
"""

from __future__ import annotations

from typing import Any

import optuna

from kubetune.components.core import Packing, pin_params
from kubetune.components.data import artifact_root, fingerprint, join, read_data
from kubetune.components.execution import render_job
from kubetune.components.pipeline.data_preparation import PreparedData, workdir_for
from kubetune.components.pipeline.preflight_checks import check_data, checked_space
from kubetune.components.pipeline.search_run import packing_plan
from kubetune.components.pipeline.search_strategy import make_request_factory
from kubetune.components.search import sampler_for, suggest
from kubetune.components.spec import TuneSpec


def first_trial_job(spec: TuneSpec) -> dict[str, Any]:
    frame = read_data(spec.data)
    facts = check_data(spec, frame)
    space = checked_space(spec, facts)
    _, sampler = sampler_for(spec, space)
    study = optuna.create_study(
        sampler=sampler,
        directions=[optuna.study.StudyDirection[d.upper()] for d in spec.objective.directions],
    )
    plan = packing_plan(spec)
    asked: list[tuple[optuna.Trial, dict[str, Any]]] = []
    for _ in range(plan.size if plan else 1):
        trial = study.ask()
        shared = plan.shared_by_group(asked[0][1]) if asked and plan is not None else None
        if shared:
            pin_params(trial, shared)
        asked.append((trial, suggest(trial, space)))
    digest = fingerprint(frame)
    root = artifact_root(spec.artifacts.uri)
    prefix = join(root, spec.study_name, digest[:16]) if root else str(workdir_for(spec.study_name))
    prepared = PreparedData(
        join(prefix, "train.parquet"), join(prefix, "test.parquet"), digest, facts, 0, 0, prefix
    )
    make_request = make_request_factory(spec, prepared, space)
    packing = (
        Packing(group=f"g{asked[0][0].number}", mode=plan.mode, size=len(asked))
        if plan is not None and len(asked) > 1
        else None
    )
    requests = [
        make_request(trial.number, -1, params).model_copy(
            update={"storage_url": None, "trial_id": None, "packing": packing}
        )
        for trial, params in asked
    ]
    group = requests if packing is not None else None
    return render_job(spec.executor.kubernetes, requests[0], spec.search.trial_timeout, group)
