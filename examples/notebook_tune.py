"""kubetune.tune from Python, as in a notebook: the CLI's tuning job, its result as objects.

    .venv/bin/python examples/notebook_tune.py

Runs offline on embedded defaults (local workers, a journal study under .kubetune/, mlflow.db here).
In a script (not in a notebook) the call sits under ``if __name__ == "__main__":``, as for any
Python program that starts worker processes: each spawned worker imports the script again.
"""

import kubetune

spec = {
    "study": "wine-notebook",
    "data": {"source": "sklearn:wine", "target": "target"},
    "model": {"family": "hist_gradient_boosting"},  # the family's default space
    "objective": {"metric": "accuracy"},
    "tracking": {"mlflow_uri": "sqlite:///mlflow.db", "experiment": "wine-notebook"},
}


def main() -> None:
    try:
        result = kubetune.tune(spec, n_trials=12, parallelism=2, seed=0)
    except (
        kubetune.KubetuneError
    ) as error:  # bad input: one line, raised before anything is recorded
        raise SystemExit(f"kubetune: {error}") from None
    print("best:", result.best_params)
    print("cross-validation:", result.cv, "held-out test:", result.test)
    print("model:", result.model_uri)
    print(result.trials[["number", "value", "state", "duration"]].sort_values("value").tail())


if __name__ == "__main__":
    main()
