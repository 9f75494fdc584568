"""The pip requirements logged with a refit model, read from its pickle instead of a subprocess."""

import pickle
import sys

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from kubetune.components.models.torch_mlp import TorchMLPClassifier
from kubetune.components.models.torch_nas import TorchNASClassifier
from kubetune.components.tracking.model_requirements import model_requirements

# what a plain scikit-learn model needs served: MLflow's loader's own and scikit-learn's
SCIKIT_LEARN_MODEL = {"mlflow", "cloudpickle", "numpy", "pandas", "scikit-learn", "scipy"}


def names(requirements):
    return {r.split("==")[0] for r in requirements}


def test_a_scikit_learn_pipeline_needs_scikit_learn_and_not_kubetune_or_torch():
    X, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 2
    model = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=3)).fit(X, y)
    requirements = model_requirements(model)
    assert names(requirements) == SCIKIT_LEARN_MODEL
    assert all("==" in r and r.split("==")[1] for r in requirements)  # pinned to what is installed


def test_a_gradient_boosting_model_holding_cython_functions_gets_its_requirements_named():
    """HistGradientBoosting keeps Cython functions whose module is Cython's shared ``_cython_X_Y_Z``, which
    no distribution owns: without naming its requirements MLflow would infer them in a subprocess."""
    X, y = np.random.default_rng(0).normal(size=(60, 3)), np.arange(60) % 3
    model = HistGradientBoostingClassifier(max_iter=3).fit(X, y)
    assert names(model_requirements(model)) == SCIKIT_LEARN_MODEL


@pytest.mark.parametrize(
    "estimator",
    [
        lambda: TorchMLPClassifier(epochs=1, seed=0, device="cpu"),
        # the architecture-search network: its blocks were a class local to a function, which no pickle takes
        lambda: TorchNASClassifier(
            n_layers=3,
            width_0=8,
            width_1=8,
            width_2=4,
            residual=True,
            norm="batch",
            epochs=1,
            seed=0,
            device="cpu",
        ),
    ],
    ids=["torch_mlp", "torch_nas"],
)
def test_kubetunes_own_torch_estimators_need_kubetune_and_torch_and_pickle(estimator):
    X, y = np.random.default_rng(0).normal(size=(40, 3)).astype("float32"), np.arange(40) % 2
    model = make_pipeline(StandardScaler(), estimator()).fit(X, y)
    assert {"kubetune", "torch", "scikit-learn"} <= names(model_requirements(model))
    again = pickle.loads(pickle.dumps(model))
    assert (again.predict_proba(X) == model.predict_proba(X)).all()


def test_a_model_no_plain_pickle_takes_is_left_to_mlflow():
    """A custom family's class defined inside a function: MLflow's cloudpickle stores it, plain pickle cannot."""

    def local_model():
        class Local:
            def predict(self, X):
                return X

        return Local()

    assert model_requirements(local_model()) is None


def test_code_no_installed_distribution_owns_is_left_to_mlflow(tmp_path, monkeypatch):
    (tmp_path / "my_team_models.py").write_text(
        "class Custom:\n    def predict(self, X):\n        return X\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import my_team_models

    try:
        assert model_requirements(my_team_models.Custom()) is None
    finally:
        sys.modules.pop("my_team_models", None)
