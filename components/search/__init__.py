"""The search itself, with no I/O of its own: the space as Optuna distributions, sampler and pruner choice,
opening or resuming a study, the Pareto front and the rule that picks from it, and population-based
training's decisions (who copies whom, with which settings).

Early stopping, population-based training, several objectives, architecture search
----------------------------------------------------------------------------------

- **Fidelity** (`components/evaluation/fidelity.py`, `Fidelity` on a family in `components/models/base.py`): a family
  says how it trains in steps -- PyTorch families call `epoch_callback` after every epoch
  (`components/models/torch_base.py`, the loop all three share); forests and gradient boosting grow with
  `warm_start` ten trees / iterations at a time (the same model as one fit). With a pruner,
  `evaluation.cross_validate` fits the first split in steps and scores each partial model on its
  validation rows; without one it reports the running mean after each fold, as before (no extra scoring).
- **Pruning in the worker** (`components/trial.StepReporter`, `components/search/pruners.py`): the spec's
  `search.pruner` is resolved once, by the controller, to concrete settings (`resolve_pruner`, pure: the
  first rung is the family's first step, Hyperband's maximum the fidelity parameter's upper bound) and sent
  with every request, so every process builds the same Optuna pruner (`build_pruner`) over the shared
  study storage, where successive halving keeps its rungs. After each step the worker reports the value
  and asks `should_prune`; a pruned trial returns `state=PRUNED` with its curve and step, the pod exits 0.
  The controller tells the study PRUNED (Optuna keeps the intermediate values); the tracker logs
  `<metric>_curve` as metric history and `kubetune.pruned_at_step`. Pruning needs one objective.
- **PBT** (`search.strategy: pbt`): `components/search/pbt.py` (pure decisions: first generation, rank, exploit
  the top quantile, explore within the space, structure never perturbed), `components/execution/pbt_member.py`
  (worker: train `interval` epochs from a checkpoint, score, write the checkpoint with
  `artifacts.write_bytes`), `components/pipeline/population_search.py` (the loop: each member's round is an enqueued trial
  whose user attrs carry member, generation, checkpoints and lineage; one `StudyController.run` per
  generation, so executors, heartbeats, retries and MLflow work unchanged; `kubetune.pbt.*` attrs become
  run tags like warm-start provenance; `pbt_lineage.json` on the parent run). A stopped PBT study
  resumes: `pbt_search.recorded_rounds` reads each generation's planned rounds back from the trials' attrs
  (a round's first attempt; retries repeat it), the generations already planned are not planned again,
  the controller finishes the last one (its interrupted rounds were re-queued), and each generation is
  planned from `pbt_search.generation_rng(seed, generation)`, so a resumed study makes the decisions an
  uninterrupted one makes (tested: the same lineage). Preflight checks the resume against the members'
  space (`pbt.member_space`, the fidelity parameter left out), which is what the study records, and refuses a
  changed population or interval in one line (`pbt_search.check_resume`): generations are planned member by
  member, and checkpoints and lineage count epochs in rounds of `interval` (stored on the study as
  `kubetune.pbt.interval`; a study begun before it was stored is checked on its population only).
  With `keep_checkpoints: last`, `pbt_search.drop_checkpoints` deletes generation g-1's checkpoints
  (`artifacts.delete`, local or S3) once generation g has trained: nothing reads them again (the refit
  replays from scratch).
  The refit replays the best member's schedule (`pbt.replay_schedule`, pure: follow whose checkpoint each
  round started from back to generation 0; `refit.replay` trains the rounds in order on the whole training
  part, each resuming from the one before), logged on the refit run as `pbt_schedule.json`.
  The warm-start plan (`tuning.warm_start_limit`: at most half the population by default) gives the first
  members their initial settings (`pbt.first_generation(starts=...)`, projected into the members' space,
  missing settings drawn), and their generation-0 trials carry the same provenance attrs as an enqueued
  warm-start trial (`tuning.warm_provenance`).
- **Several objectives** (`components/search/pareto.py`, pure; `components/tracking/pareto_plot.py`): after the search,
  `tuning._select_from_front` logs the front as an MLflow table and a PNG, and picks the trial to refit by
  `objective.select`. Cost metrics (`inference_ms`, `model_size_kb`) are measured in
  `evaluation.measure_cost` on each fold's fitted pipeline.
- **Architecture search** (`components/models/torch_nas.py`): `torch_nas` and `torch_cnn`, whose default
  spaces make structure conditional parameters (`width_2` only when `n_layers >= 3`), searched by any
  sampler through the ordinary define-by-run `space.suggest`. The MLP's residual block is a module-level
  class (`components/models/torch_blocks.py`, imported only when a network is built): the refit's model
  is pickled, and a class defined inside a function is not picklable by reference.

Benchmark: `bench/multifidelity.py` (MF-Hartmann 6-D from mf-prior-bench, and `torch_mlp` on digits),
figures in docs/benchmarks.md.
"""

import lazy_loader

# The names below are this package's public surface, listed in __init__.pyi (which type checkers read);
# each module is imported on first use, so importing the package costs nothing it does not need.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
