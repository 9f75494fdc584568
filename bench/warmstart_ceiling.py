"""How far can a warm start from these past studies go? Past best configurations scored on every dataset.

bench/warmstart.py measures kubetune's warm start; this asks what *any* warm start that runs past
studies' best configurations first could reach on the same leave-one-dataset-out setting. For every
dataset D and seed s, the best 3 configurations of each other dataset's cold study (the candidates the
planner draws from) are scored on D with seed s's cross-validation, exactly as a trial would be, and
compared with the best that D's cold 100-trial TPE study reached. Printed per family and metric:

* how many studies have *some* past candidate within 1% of the cold best (a warm start that always
  picked perfectly would need 1 trial there);
* how often kubetune's plan (kubetune.components.warmstart.planner, spec defaults) runs one first, and within its plan;
* how often the best *fixed* order would -- a greedy portfolio built from the candidates' true scores on
  the 8 other datasets (the information a perfect surrogate of the past studies would give) -- and the
  median ratio cold/warm that a warm start opening with that order could reach at most: cold trials
  divided by the position of the order's first configuration within 1%, or by 4 when none of its 3 is
  (a loose bound where cold studies are long: after a miss the sampler might hit at once).

Run after ``make install-bench``: ``.venv/bin/python bench/warmstart_ceiling.py [--family knn --metric
log_loss] [--cold-cache FILE] [--any-config 300]`` (the same cold studies and cache file as
bench/warmstart.py; a few minutes on 2 cores, 10-20 more with ``--any-config 300``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import optuna

from kubetune.components.core import SpecError

sys.path.insert(0, str(Path(__file__).resolve().parent))

import warmstart as bench

from kubetune.components.search.space import grid, grid_size, suggest

CANDIDATES_PER_STUDY = 3  # the planner's default top_k
PORTFOLIO_SIZE = 3


def _score_candidates(job: tuple[str, int, list[dict]]) -> tuple[str, int, list[float]]:
    name, seed, configs = job
    X, y = bench.load(name)
    frame = X.assign(target=y.to_numpy())
    return name, seed, [bench.evaluate(config, frame, seed) for config in configs]


def ceiling(
    seeds: list[int],
    n_trials: int,
    pool: ProcessPoolExecutor,
    cold_cache: Path | None,
    any_config: int = 0,
) -> dict:
    cold = bench.cold_studies(seeds, n_trials, pool, cold_cache)
    names = list(bench.DATASETS)
    candidates = {
        s: [(n, c) for n in names for c, _ in bench.ranked(cold[(n, s)][0])[:CANDIDATES_PER_STUDY]]
        for s in seeds
    }
    jobs = [(n, s, [c for _, c in candidates[s]]) for n in names for s in seeds]
    scores = {(n, s): row for n, s, row in pool.map(_score_candidates, jobs)}
    target = {
        (n, s): bench.best_score([v for _, v in cold[(n, s)][0]]) for n in names for s in seeds
    }
    hit = lambda j, n, s: bench.within_tolerance(scores[(n, s)][j], target[(n, s)])  # noqa: E731
    counts = {"studies": 0, "exists": 0, "plan_first": 0, "plan_any": 0, "oracle_first": 0}
    bounds, cold_trials = [], {}
    for n in names:
        for s in seeds:
            mine = [j for j, (origin, _) in enumerate(candidates[s]) if origin != n]
            cold_trials[(n, s)] = bench.trials_to_target(
                [v for _, v in cold[(n, s)][0]], target[(n, s)]
            )
            counts["studies"] += 1
            counts["exists"] += any(hit(j, n, s) for j in mine)
            plan = [c.params for c in bench.leave_one_out_plan(n, s, cold).configs]
            index = {json.dumps(candidates[s][j][1], sort_keys=True): j for j in mine}
            planned = [index.get(json.dumps(p, sort_keys=True)) for p in plan]
            counts["plan_first"] += (
                bool(planned) and planned[0] is not None and hit(planned[0], n, s)
            )
            counts["plan_any"] += any(j is not None and hit(j, n, s) for j in planned)
            order = _oracle_portfolio(mine, [o for o in names if o != n], s, hit)
            position = next((i for i, j in enumerate(order, start=1) if hit(j, n, s)), None)
            counts["oracle_first"] += position == 1
            bounds.append(
                cold_trials[(n, s)] / (position or len(order) + 1)
            )  # a miss: at least one more trial
    result = {**counts, "oracle_ratio_bound": statistics.median(bounds)}
    if any_config:
        result |= _best_single_config(
            seeds, any_config, candidates, scores, target, pool, cold_trials
        )
    return result


def _space_sample(n: int, seed: int) -> tuple[list[dict], bool]:
    """Every configuration of the space when it is a grid of at most ``n`` points (and True), else ``n``
    random ones (and False)."""
    try:
        values = grid(bench.SPACE)
    except SpecError:  # float or conditional parameters: not a grid
        values = None
    if values is not None and grid_size(values) <= n:
        return [dict(zip(values, point)) for point in itertools.product(*values.values())], True
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    return [suggest(study.ask(), bench.SPACE) for _ in range(n)], False


def _best_single_config(
    seeds: list[int],
    n: int,
    candidates: dict,
    candidate_scores: dict,
    target: dict,
    pool: ProcessPoolExecutor,
    cold_trials: dict,
) -> dict:
    """For each held-out dataset, the configuration (of past candidates + the space sample) within 1% on
    most of the other datasets; how often it is within 1% on the held-out one, the median ratio a warm
    start opening with it could reach at most (cold trials over 1 on a hit, over 2 on a miss: the next
    trial hitting is the best case), and the most datasets any one configuration is within 1% on. The
    past candidates' scores (``candidate_scores``) are reused; only the space sample is scored here."""
    names = list(bench.DATASETS)
    samples = {s: _space_sample(n, s) for s in seeds}
    configs = {s: [c for _, c in candidates[s]] + samples[s][0] for s in seeds}
    sampled = pool.map(
        _score_candidates, [(name, s, samples[s][0]) for name in names for s in seeds]
    )
    scores = {(name, s): candidate_scores[(name, s)] + row for name, s, row in sampled}
    gap = lambda j, o, s: bench.SIGN * (target[(o, s)] - scores[(o, s)][j]) / abs(target[(o, s)])  # noqa: E731  relative, > 0: worse
    hit = lambda j, o, s: bench.within_tolerance(scores[(o, s)][j], target[(o, s)])  # noqa: E731
    first, most, bounds = 0, 0, []
    for s in seeds:
        size = len(configs[s])
        most = max(most, max(sum(hit(j, o, s) for o in names) for j in range(size)))
        for name in names:
            past = [o for o in names if o != name]
            pick = max(
                range(size),
                key=lambda j: (
                    sum(hit(j, o, s) for o in past),
                    -statistics.mean(gap(j, o, s) for o in past),
                ),
            )
            first += hit(pick, name, s)
            bounds.append(cold_trials[(name, s)] / (1 if hit(pick, name, s) else 2))
    return {
        "any_config_first": first,
        "any_config_size": size,
        "any_config_most_datasets": most,
        "any_config_whole_space": samples[seeds[0]][1],
        "any_config_ratio_bound": statistics.median(bounds),
    }


def _oracle_portfolio(candidates: list[int], past: list[str], seed: int, hit) -> list[int]:
    """Greedy: the candidate within 1% on most past datasets, then the one covering most of the rest."""
    order, covered = [], set()
    while len(order) < PORTFOLIO_SIZE and len(order) < len(candidates):
        best = max(
            (j for j in candidates if j not in order),
            key=lambda j: sum(1 for o in past if o not in covered and hit(j, o, seed)),
        )
        order.append(best)
        covered |= {o for o in past if hit(best, o, seed)}
    return order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench.add_study_arguments(parser)
    parser.add_argument(
        "--cold-cache",
        type=Path,
        help="the cold studies' JSON file (bench/warmstart.py --cold-cache)",
    )
    parser.add_argument(
        "--any-config",
        type=int,
        default=0,
        metavar="N",
        help="also score N configurations of the space (the whole grid if it has at most N points) on every dataset",
    )
    args = parser.parse_args()
    if args.any_config < 0:
        parser.error("--any-config: must be 0 or more")
    bench.check_cold_cache(parser, args.cold_cache)
    bench.restart_for(args, __file__)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with ProcessPoolExecutor(args.workers) as pool:
        r = ceiling(list(range(args.seeds)), args.trials, pool, args.cold_cache, args.any_config)
    n = r["studies"]
    print(
        "| setting | studies | some past candidate within 1% | kubetune's first warm trial within 1% | any of kubetune's warm trials | "
        "best fixed order's first trial | median ratio that order can reach at most |"
    )
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {bench.FAMILY_NAME}, {bench.METRIC} | {n} | {r['exists']}/{n} | {r['plan_first']}/{n} | {r['plan_any']}/{n} | "
        f"{r['oracle_first']}/{n} | {r['oracle_ratio_bound']:.1f}x |"
    )
    if args.any_config:
        sample = (
            "every configuration of the space"
            if r["any_config_whole_space"]
            else f"{args.any_config} random configurations"
        )
        print(
            f"\nAny configuration ({r['any_config_size']} per seed: the past candidates and {sample}): "
            f"the one within 1% on most of the other 8 datasets is within 1% on the held-out one in {r['any_config_first']}/{n} studies "
            f"(a warm start opening with it could reach a median ratio of {r['any_config_ratio_bound']:.1f}x at most); "
            f"no configuration is within 1% on more than {r['any_config_most_datasets']} of the 9 datasets."
        )


if __name__ == "__main__":
    main()
