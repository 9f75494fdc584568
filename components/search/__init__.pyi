"""The public surface of kubetune.components.search: what other packages, the flows and users import.

lazy_loader reads this file at import time (see __init__.py); type checkers read it as the package's stub.
"""

from .cost_aware_sampler import (
    CostAwareSampler as CostAwareSampler,
    SwitchDecision as SwitchDecision,
)
from .pareto import front_rows as front_rows, select as select
from .pbt import (
    MemberRound as MemberRound,
    RoundResult as RoundResult,
    first_generation as first_generation,
    member_space as member_space,
    next_generation as next_generation,
    replay_schedule as replay_schedule,
    round_seed as round_seed,
)
from .pbt_rounds import (
    check_resume as check_resume,
    checkpoint_uri as checkpoint_uri,
    generation_results as generation_results,
    generation_rng as generation_rng,
    recorded_rounds as recorded_rounds,
    round_attrs as round_attrs,
    round_of as round_of,
)
from .pruners import build_pruner as build_pruner, resolve_pruner as resolve_pruner
from .samplers import (
    SamplerChoice as SamplerChoice,
    build_sampler as build_sampler,
    choose_sampler as choose_sampler,
    effective_trials as effective_trials,
    sampler_for as sampler_for,
    unstated_settings as unstated_settings,
)
from .space import (
    Space as Space,
    distribution as distribution,
    grid as grid,
    project as project,
    resolve_space as resolve_space,
    space_fingerprint as space_fingerprint,
    suggest as suggest,
    to_jsonable as to_jsonable,
)
from .study import (
    best_trial as best_trial,
    check_resumable as check_resumable,
    open_study as open_study,
)
