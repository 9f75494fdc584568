"""A PyTorch model registered by kubetune 0.1 pickled its classes as ``components.models.*``; kubetune now
installs as ``kubetune.components``. Such a model loads through ``legacy_module_aliases`` -- the champion
check does this itself -- and fails without it."""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest

from kubetune.components.core import EvaluationTarget
from kubetune.components.data.frames import read_source, write_frame
from kubetune.components.evaluation.cross_validation import fit_full
from kubetune.components.models import get_family
from kubetune.components.registry import legacy_module_aliases, score_version
from kubetune.components.tracking import fluent_uris


@contextlib.contextmanager
def _as_kubetune_0_1() -> Iterator[None]:
    """Inside, pickling a TorchMLP names its class as kubetune 0.1 did: ``components.models.torch_mlp``."""
    from kubetune.components.models.torch_mlp import TorchMLPClassifier

    old = {
        "components": "kubetune.components",
        "components.models": "kubetune.components.models",
        "components.models.torch_mlp": "kubetune.components.models.torch_mlp",
    }
    sys.modules.update({name: sys.modules[current] for name, current in old.items()})
    TorchMLPClassifier.__module__ = "components.models.torch_mlp"
    try:
        yield
    finally:
        TorchMLPClassifier.__module__ = "kubetune.components.models.torch_mlp"
        for name in old:
            del sys.modules[name]


@pytest.fixture
def old_model(tmp_path, monkeypatch):
    # as installed: the checkout's own folder named components/ must not be importable as `components`
    monkeypatch.setattr(
        sys,
        "path",
        [
            p
            for p in sys.path
            if not (Path(p or ".").resolve() / "components" / "__init__.py").exists()
        ],
    )
    monkeypatch.chdir(tmp_path)
    frame = read_source("sklearn:iris")
    target = EvaluationTarget("target", (), ("accuracy",), 3)
    model = fit_full(
        get_family("torch_mlp").build({"epochs": 2, "width": 8, "depth": 1}, "classification", 0),
        frame,
        target,
    )
    return model, frame, target


def test_a_kubetune_0_1_pickle_loads_only_through_the_aliases(old_model):
    model, frame, _ = old_model
    with _as_kubetune_0_1():
        blob = pickle.dumps(model)
    assert (
        b"components.models.torch_mlp" in blob
        and b"kubetune.components.models.torch_mlp" not in blob
    )
    with pytest.raises(ModuleNotFoundError, match="No module named 'components'"):
        pickle.loads(blob)
    with legacy_module_aliases():
        model = pickle.loads(blob)
    assert len(model.predict(frame.drop(columns=["target"]).head(5))) == 5
    assert "components" not in sys.modules  # the aliases are gone once the block ends


def test_the_champion_check_scores_a_model_registered_by_kubetune_0_1(old_model, tmp_path):
    model, frame, target = old_model
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    uris_before = mlflow.get_tracking_uri(), os.environ.get("MLFLOW_TRACKING_URI")
    with fluent_uris(uri):
        with _as_kubetune_0_1(), mlflow.start_run():
            info = mlflow.sklearn.log_model(
                model, name="model", registered_model_name="legacy", serialization_format="pickle"
            )
        local = Path(
            mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(tmp_path / "download"))
        )
        pickled = (local / "model.pkl").read_bytes()
        assert (
            b"components.models.torch_mlp" in pickled
            and b"kubetune.components.models.torch_mlp" not in pickled
        )
        with pytest.raises(ModuleNotFoundError, match="No module named 'components'"):
            mlflow.sklearn.load_model(info.model_uri)
    test_path = write_frame(frame, tmp_path / "test.parquet")
    scores, problem = score_version(uri, "legacy", "1", str(test_path), target)
    assert problem is None and 0.0 <= scores["accuracy"] <= 1.0
    # the check set MLflow's process-wide URIs for its load only: a notebook's next MLflow call (or the
    # next test in this process) still goes where it went before
    assert (mlflow.get_tracking_uri(), os.environ.get("MLFLOW_TRACKING_URI")) == uris_before
