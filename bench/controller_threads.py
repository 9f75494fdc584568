"""The Gaussian process's ask while local workers train: every core against the controller's budget.

The controller asks the sampler for every trial while the local workers train on the machine's cores
(``cpu_count // parallelism`` threads each). Here ``parallelism`` processes stand in for busy workers
(each spins a single-threaded NumPy loop, as a training worker limited to its share does), and one
process asks kubetune's GP sampler (as ``sampler: auto`` builds it) for trials of gradient boosting's
default space with a cheap objective, in two modes interleaved trial by trial on two studies:

- ``all cores``: torch and BLAS with their default thread count (every core), the controller before
  its thread budget;
- ``budget``: inside ``kubetune.components.execution.thread_budget.numeric_threads`` with the cores the
  workers leave (at least one), as the controller asks now.

Reported: the median ask time per window of trials and the workers' progress (loop iterations per
second while each mode's asks ran), so the cost to the trials is read beside the cost of the ask.

Run: ``.venv/bin/python bench/controller_threads.py [--trials 60] [--parallelism 2]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _busy_worker(counter, stop) -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    import numpy as np
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    matrix = np.random.default_rng(0).random((200, 200))
    while not stop.is_set():
        matrix = np.tanh(matrix @ matrix.T / 200.0)
        with counter.get_lock():
            counter.value += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--parallelism", type=int, default=2)
    args = parser.parse_args()

    import numpy as np
    import optuna
    import torch

    from kubetune.components.execution.thread_budget import controller_threads, numeric_threads
    from kubetune.components.models import get_family
    from kubetune.components.search import build_sampler, suggest
    from kubetune.components.spec import ParamSpec

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = {
        name: ParamSpec.model_validate(values)
        for name, values in get_family("hist_gradient_boosting")
        .default_space("classification")
        .items()
    }
    cores = os.cpu_count() or 1
    budget = controller_threads(cores // args.parallelism * args.parallelism)
    target = np.random.default_rng(1).random(len(space))

    context = multiprocessing.get_context("spawn")
    counter, stop = context.Value("l", 0), context.Event()
    workers = [
        context.Process(target=_busy_worker, args=(counter, stop)) for _ in range(args.parallelism)
    ]
    for worker in workers:
        worker.start()
    time.sleep(3)  # the workers' imports

    studies = {
        mode: optuna.create_study(
            sampler=build_sampler("gp", space, 0, 1, args.parallelism), direction="minimize"
        )
        for mode in ("all cores", "budget")
    }
    asks: dict[str, list[float]] = {mode: [] for mode in studies}
    progress: dict[str, list[float]] = {mode: [] for mode in studies}
    default_threads = torch.get_num_threads()
    for _ in range(args.trials):
        for mode, study in studies.items():
            before = counter.value
            started = time.perf_counter()
            if mode == "budget":
                with numeric_threads(budget):
                    trial = study.ask()
                    params = suggest(trial, space)
            else:
                trial = study.ask()
                params = suggest(trial, space)
            elapsed = time.perf_counter() - started
            asks[mode].append(elapsed)
            progress[mode].append((counter.value - before) / elapsed)
            unit = [
                (np.log(v) if space[k].log else float(v)) if isinstance(v, int | float) else 0.0
                for k, v in params.items()
            ]
            study.tell(
                trial, float(np.sum((np.tanh(np.array(unit) / 10) - target[: len(unit)]) ** 2))
            )
    stop.set()
    for worker in workers:
        worker.join()

    print(
        f"\n{cores} cores, {args.parallelism} busy workers, GP on hist_gradient_boosting's default space, "
        f"{args.trials} trials per mode; torch threads by default {default_threads}, budget {budget}\n"
    )
    print("| trials | mode | median ask | workers' loops per second during the asks |")
    print("|---|---|---|---|")
    third = args.trials // 3
    windows = [(0, third), (third, 2 * third), (2 * third, args.trials)]
    for low, high in windows:
        for mode in studies:
            print(
                f"| {low + 1}-{high} | {mode} | {statistics.median(asks[mode][low:high]):.3f} s | "
                f"{statistics.median(progress[mode][low:high]):.0f} |"
            )


if __name__ == "__main__":
    main()
