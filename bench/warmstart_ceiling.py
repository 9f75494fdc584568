"""How far can a warm start from these past studies go? Past best configurations scored on every dataset.

bench/warmstart.py measures kubetune's warm start; this asks what *any* warm start that runs past
studies' best configurations first could reach on the same leave-one-dataset-out setting. For every
dataset D and seed s, the best 3 configurations of each other dataset's cold study (the candidates the
planner draws from) are scored on D with seed s's cross-validation, exactly as a trial would be, and
compared with the best that D's cold 100-trial TPE study reached. Printed per family and metric:

* how many studies have *some* past candidate within 1% of the cold best (a warm start that always
  picked perfectly would need 1 trial there);
* how often kubetune's plan (components.warmstart, spec defaults) runs one first, and within its plan;
* how often the best *fixed* order would -- a greedy portfolio built from the candidates' true scores on
  the 8 other datasets (the information a perfect surrogate of the past studies would give) -- and the
  median ratio cold/warm that a warm start opening with that order could reach at most: cold trials
  divided by the position of the order's first configuration within 1%, or by 4 when none of its 3 is
  (a loose bound where cold studies are long: after a miss the sampler might hit at once).

Run after ``make install-bench``: ``.venv/bin/python bench/warmstart_ceiling.py [--family knn --metric
log_loss] [--cold-cache FILE]`` (the same cold studies and cache file as bench/warmstart.py; a few
minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import optuna

sys.path.insert(0, str(Path(__file__).resolve().parent))

import warmstart as bench  # noqa: E402  (bench/warmstart.py: datasets, studies, scoring)

CANDIDATES_PER_STUDY = 3  # the planner's default top_k
PORTFOLIO_SIZE = 3


def _score_candidates(job: tuple[str, int, list[dict]]) -> tuple[str, int, list[float]]:
    name, seed, configs = job
    X, y = bench.load(name)
    frame = X.assign(target=y.to_numpy())
    return name, seed, [bench.evaluate(config, frame, seed) for config in configs]


def ceiling(seeds: list[int], n_trials: int, pool: ProcessPoolExecutor, cold_cache: Path | None) -> dict:
    cold = bench.cold_studies(seeds, n_trials, pool, cold_cache)
    names = list(bench.DATASETS)
    candidates = {s: [(n, c) for n in names for c, _ in bench.ranked(cold[(n, s)][0])[:CANDIDATES_PER_STUDY]] for s in seeds}
    jobs = [(n, s, [c for _, c in candidates[s]]) for n in names for s in seeds]
    scores = {(n, s): row for n, s, row in pool.map(_score_candidates, jobs)}
    target = {(n, s): bench.best_score([v for _, v in cold[(n, s)][0]]) for n in names for s in seeds}
    hit = lambda j, n, s: bench.within_tolerance(scores[(n, s)][j], target[(n, s)])  # noqa: E731
    counts = {"studies": 0, "exists": 0, "plan_first": 0, "plan_any": 0, "oracle_first": 0}
    bounds = []
    for n in names:
        for s in seeds:
            mine = [j for j, (origin, _) in enumerate(candidates[s]) if origin != n]
            cold_trials = bench.trials_to_target([v for _, v in cold[(n, s)][0]], target[(n, s)])
            counts["studies"] += 1
            counts["exists"] += any(hit(j, n, s) for j in mine)
            plan = [c.params for c in bench.leave_one_out_plan(n, s, cold).configs]
            index = {json.dumps(candidates[s][j][1], sort_keys=True): j for j in mine}
            planned = [index.get(json.dumps(p, sort_keys=True)) for p in plan]
            counts["plan_first"] += bool(planned) and planned[0] is not None and hit(planned[0], n, s)
            counts["plan_any"] += any(j is not None and hit(j, n, s) for j in planned)
            order = _oracle_portfolio(mine, [o for o in names if o != n], s, hit)
            position = next((i for i, j in enumerate(order, start=1) if hit(j, n, s)), None)
            counts["oracle_first"] += position == 1
            bounds.append(cold_trials / (position or len(order) + 1))  # a miss: at least one more trial
    return {**counts, "oracle_ratio_bound": statistics.median(bounds)}


def _oracle_portfolio(candidates: list[int], past: list[str], seed: int, hit) -> list[int]:  # noqa: ANN001
    """Greedy: the candidate within 1% on most past datasets, then the one covering most of the rest."""
    order, covered = [], set()
    while len(order) < PORTFOLIO_SIZE and len(order) < len(candidates):
        best = max((j for j in candidates if j not in order), key=lambda j: sum(1 for o in past if o not in covered and hit(j, o, seed)))
        order.append(best)
        covered |= {o for o in past if hit(best, o, seed)}
    return order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cold-cache", type=Path, help="the cold studies' JSON file (bench/warmstart.py --cold-cache)")
    parser.add_argument("--family", default=bench.FAMILY_NAME, choices=bench.FAMILY_CHOICES)
    parser.add_argument("--metric", default=bench.METRIC, choices=bench.METRIC_CHOICES)
    args = parser.parse_args()
    bench.check_cold_cache(parser, args.cold_cache)
    bench.restart_for(args.family, args.metric, __file__)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with ProcessPoolExecutor(args.workers) as pool:
        r = ceiling(list(range(args.seeds)), args.trials, pool, args.cold_cache)
    n = r["studies"]
    print("| setting | studies | some past candidate within 1% | kubetune's first warm trial within 1% | any of kubetune's warm trials | "
          "best fixed order's first trial | median ratio that order can reach at most |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {bench.FAMILY_NAME}, {bench.METRIC} | {n} | {r['exists']}/{n} | {r['plan_first']}/{n} | {r['plan_any']}/{n} | "
          f"{r['oracle_first']}/{n} | {r['oracle_ratio_bound']:.1f}x |")


if __name__ == "__main__":
    main()
