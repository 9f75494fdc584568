"""The GPU trial path, measured: the real pod entrypoint trains ``torch_mlp`` on CUDA, then the same trial
is forced onto the CPU (``CUDA_VISIBLE_DEVICES=""``) for the ratio, side by side in one run.

Each trial runs exactly as in a pod: ``python -m kubetune.components.execution.pod_entrypoint`` in its own process, the
request in ``KUBETUNE_TRIAL_REQUEST``, the study storage in ``KUBETUNE_STORAGE_URL`` (a journal file here),
the result published to the study storage and read back from there. Run it on a machine with a GPU:
``python bench/gpu_trial.py --rows 50000 --repeats 3``. Figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kubetune.components.core import TrialRequest  # noqa: E402
from kubetune.components.execution import (  # noqa: E402
    open_storage,
    read_published,
)
from kubetune.components.execution.kubernetes_manifest import REQUEST_ENV  # noqa: E402

PARAMS = {
    "depth": 3,
    "width": 256,
    "dropout": 0.1,
    "lr": 1e-3,
    "weight_decay": 1e-5,
    "batch_size": 256,
    "epochs": 20,
}


def make_data(path: Path, rows: int, features: int) -> Path:
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=rows,
        n_features=features,
        n_informative=features // 2,
        n_classes=4,
        random_state=0,
    )
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(features)]).assign(target=y)
    frame.to_parquet(path)
    return path


def run_pod(
    study: optuna.Study, storage: object, url: str, data: Path, device: str, params: dict
) -> dict:
    trial = study.ask()
    request = TrialRequest(
        study_name=study.study_name,
        trial_number=trial.number,
        trial_id=trial._trial_id,
        params=params,
        family="torch_mlp",
        task="classification",
        n_classes=4,
        data_uri=str(data),
        target="target",
        metrics=["accuracy"],
        validation="stratified_kfold",
        folds=3,
        val_size=0.2,
        seed=0,
        storage_url=url,
    )
    env = {
        **os.environ,
        REQUEST_ENV: request.model_dump_json(),
        "KUBETUNE_STORAGE_URL": url,
        "PYTHONPATH": str(REPO),
    }
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    started = time.perf_counter()
    process = subprocess.run(
        [sys.executable, "-m", "kubetune.components.execution.pod_entrypoint"],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    wall = time.perf_counter() - started
    result = read_published(storage, trial._trial_id)
    if process.returncode != 0 or result is None:
        raise SystemExit(f"pod entrypoint failed ({process.returncode}): {process.stderr[-2000:]}")
    study.tell(trial, result.values[0])
    return {
        "device": result.device,
        "trial_s": result.duration_s,
        "pod_wall_s": wall,
        "fit_s": result.fit_seconds_mean,
        "accuracy": result.values[0],
        "stdout": process.stdout.strip(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    import torch

    print(
        f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}"
        + (f" ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "")
    )
    params = {**PARAMS, "epochs": args.epochs}
    with tempfile.TemporaryDirectory() as tmp:
        data = make_data(Path(tmp) / "train.parquet", args.rows, args.features)
        url = f"journal://{tmp}/study.journal"
        storage = open_storage(url)
        study = optuna.create_study(
            study_name="gpu-trial-path", storage=storage, direction="maximize"
        )
        rows = {"cuda": [], "cpu": []}
        for _ in range(args.repeats):  # interleaved, so drift on the machine hits both alike
            for device in ("cuda", "cpu"):
                row = run_pod(study, storage, url, data, device, params)
                rows[device].append(row)
                print(
                    f"{device:4s} {row['stdout']}  (pod process {row['pod_wall_s']:.2f} s, fit per fold {row['fit_s']:.2f} s)"
                )
    print(
        f"\n{args.rows} rows x {args.features} features, 4 classes, 3-fold CV, torch_mlp {params}"
    )
    print(
        "| device reported by the pod | median trial s | median fit per fold s | median pod process s | accuracy |"
    )
    print("|---|---|---|---|---|")
    for runs in rows.values():
        print(
            f"| {runs[0]['device']} | {statistics.median(r['trial_s'] for r in runs):.2f} | {statistics.median(r['fit_s'] for r in runs):.2f} | "
            f"{statistics.median(r['pod_wall_s'] for r in runs):.2f} | {statistics.median(r['accuracy'] for r in runs):.4f} |"
        )
    ratio = statistics.median(r["trial_s"] for r in rows["cpu"]) / statistics.median(
        r["trial_s"] for r in rows["cuda"]
    )
    print(f"\nCPU / GPU trial time (medians): {ratio:.1f}x")


if __name__ == "__main__":
    main()
