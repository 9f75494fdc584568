"""Controller sessions: every controller that opens a study gets its own number, and its sampler a seed
derived from the spec's seed and that number.

Seeded alike, a resumed study's sampler drew its first configurations again (``--n-trials 3`` then
``--n-trials 6``: trials 3-5 repeated 0-2), and two controllers started together repeated each other.
The first session keeps the spec's seed, so an uninterrupted study is exactly what it always was; each
later one (a resume, a second controller) draws from a stream of its own. Numbers are handed out under a
study lock (kubetune.components.execution.study_locks), so two controllers starting at once never get
the same one.
"""

from __future__ import annotations

import numpy as np
import optuna

from kubetune.components.core import SESSIONS_ATTR
from kubetune.components.execution.study_locks import study_lock


def start_session(study: optuna.Study, storage_url: str) -> int:
    """This controller's session number in ``study``: 0 for the first controller ever, then 1, 2, ..."""
    with study_lock(study, storage_url, "sessions"):
        session = int(study.user_attrs.get(SESSIONS_ATTR, 0))
        study.set_user_attr(SESSIONS_ATTR, session + 1)
    return session


def session_seed(seed: int | None, session: int) -> int | None:
    """The sampler's seed in ``session``: the spec's for the first, one of its own for each later one."""
    if seed is None or session == 0:
        return seed
    return int(np.random.SeedSequence([seed, session]).generate_state(1)[0])
