"""Data preparation for a study: read, check, fingerprint, split off the held-out test set, write both parts.

Trials get ``train_uri`` only. The test part is written separately and is read once, by the refit step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from kubetune.components.data import (
    ROW_ID,
    compute_meta_features,
    features_and_target,
    fingerprint,
    join,
    put_file,
    read_data,
    split_holdout,
    write_frame,
)
from kubetune.components.pipeline.preflight_checks import DataFacts, check_data
from kubetune.components.spec import TuneSpec


@dataclass(frozen=True)
class PreparedData:
    train_uri: (
        str  # what trials read: a local path, or s3://... when an artifact store is configured
    )
    test_uri: str
    fingerprint: str
    facts: DataFacts
    n_train: int
    n_test: int
    workdir: str  # local copies of both parts
    # of the training part; see metafeatures
    meta_features: dict[str, float] = field(default_factory=dict)

    def as_params(self) -> dict[str, object]:
        return {
            "data_fingerprint": self.fingerprint,
            "task": self.facts.task,
            "n_rows": self.facts.n_rows,
            "n_features": self.facts.n_features,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "validation_strategy": self.facts.validation,
            **(
                {"positive_class": self.facts.positive_class}
                if self.facts.positive_class is not None
                else {}
            ),
        }


def workdir_for(study_name: str, root: Path | None = None) -> Path:
    """Where a study's prepared data is written: ``.kubetune/`` under the working directory, or
    ``$KUBETUNE_WORKDIR`` -- a flow-run pod starts in the image's read-only /app (Prefect's pull step),
    so the chart points this at the pod's writable /tmp."""
    root = root or Path(os.environ.get("KUBETUNE_WORKDIR") or ".kubetune")
    return (root / study_name).resolve()


def prepare_data(spec: TuneSpec, workdir: Path, artifact_root: str | None = None) -> PreparedData:
    frame = read_data(spec.data)
    facts = check_data(spec, frame)
    split = split_holdout(
        frame,
        spec.data.target,
        facts.task,
        spec.data.test_size,
        spec.search.seed,
        time_ordered=facts.validation == "time_series",
    )
    train_path = write_frame(split.train, workdir / "train.parquet")
    test_path = write_frame(split.test, workdir / "test.parquet")
    digest = fingerprint(frame)
    X, y = features_and_target(split.train, spec.data.target, spec.data.drop)
    meta = compute_meta_features(X, y, facts.task, spec.search.seed)
    train_uri, test_uri = str(train_path), str(test_path)
    if artifact_root:
        # content-addressed: a new data version never overwrites what running trials are reading
        prefix = join(artifact_root, spec.study_name, digest[:16])
        train_uri = put_file(train_path, join(prefix, "train.parquet"))
        test_uri = put_file(test_path, join(prefix, "test.parquet"))
    return PreparedData(
        train_uri, test_uri, digest, facts, len(split.train), len(split.test), str(workdir), meta
    )


def split_row_ids(prepared: PreparedData) -> dict[str, list[int]]:
    """Row ids of each part, logged to the parent run so anyone can audit that they are disjoint."""
    import pandas as pd

    return {
        "train": pd.read_parquet(
            Path(prepared.workdir) / "train.parquet", columns=[]
        ).index.tolist(),
        "test": pd.read_parquet(Path(prepared.workdir) / "test.parquet", columns=[]).index.tolist(),
        "index_name": [ROW_ID],
    }
