"""The public surface of kubetune.components.search: what other packages, the flows and users import.

lazy_loader reads this file at import time (see __init__.py); type checkers read it as the package's stub.
"""

from .pareto import front_rows as front_rows
from .pareto import select as select
from .pbt import (
    MemberRound as MemberRound,
)
from .pbt import (
    RoundResult as RoundResult,
)
from .pbt import (
    first_generation as first_generation,
)
from .pbt import (
    member_space as member_space,
)
from .pbt import (
    next_generation as next_generation,
)
from .pbt import (
    replay_schedule as replay_schedule,
)
from .pbt import (
    round_seed as round_seed,
)
from .pbt_rounds import (
    check_resume as check_resume,
)
from .pbt_rounds import (
    checkpoint_uri as checkpoint_uri,
)
from .pbt_rounds import (
    generation_results as generation_results,
)
from .pbt_rounds import (
    generation_rng as generation_rng,
)
from .pbt_rounds import (
    recorded_rounds as recorded_rounds,
)
from .pbt_rounds import (
    round_attrs as round_attrs,
)
from .pbt_rounds import (
    round_of as round_of,
)
from .pruners import build_pruner as build_pruner
from .pruners import resolve_pruner as resolve_pruner
from .samplers import (
    SamplerChoice as SamplerChoice,
)
from .samplers import (
    choose_sampler as choose_sampler,
)
from .samplers import (
    effective_trials as effective_trials,
)
from .samplers import (
    sampler_for as sampler_for,
)
from .samplers import (
    unstated_settings as unstated_settings,
)
from .space import (
    Space as Space,
)
from .space import (
    distribution as distribution,
)
from .space import (
    project as project,
)
from .space import (
    resolve_space as resolve_space,
)
from .space import (
    space_fingerprint as space_fingerprint,
)
from .space import (
    suggest as suggest,
)
from .space import (
    to_jsonable as to_jsonable,
)
from .study import (
    best_trial as best_trial,
)
from .study import (
    check_resumable as check_resumable,
)
from .study import (
    open_study as open_study,
)
