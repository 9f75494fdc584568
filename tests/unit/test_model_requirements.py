"""The pip requirements logged with a refit model, read from its pickle instead of a subprocess."""

import sys

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from components.model_requirements import model_requirements
from components.models.torch_mlp import TorchMLPClassifier


def names(requirements):
    return {r.split("==")[0] for r in requirements}


def test_a_scikit_learn_pipeline_needs_scikit_learn_and_not_kubetune_or_torch():
    X, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 2
    model = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=3)).fit(X, y)
    requirements = model_requirements(model)
    assert names(requirements) == {"mlflow", "cloudpickle", "numpy", "pandas", "scikit-learn", "scipy"}
    assert all("==" in r and r.split("==")[1] for r in requirements)  # pinned to what is installed


def test_kubetunes_own_torch_estimator_needs_kubetune_and_torch():
    X, y = np.random.default_rng(0).normal(size=(40, 3)).astype("float32"), np.arange(40) % 2
    model = make_pipeline(StandardScaler(), TorchMLPClassifier(epochs=1, seed=0, device="cpu")).fit(X, y)
    assert {"kubetune", "torch", "scikit-learn"} <= names(model_requirements(model))


def test_code_no_installed_distribution_owns_is_left_to_mlflow(tmp_path, monkeypatch):
    (tmp_path / "my_team_models.py").write_text("class Custom:\n    def predict(self, X):\n        return X\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import my_team_models

    try:
        assert model_requirements(my_team_models.Custom()) is None
    finally:
        sys.modules.pop("my_team_models", None)
