import numpy as np
import optuna
import pytest

from components.data import read_source
from components.evaluation import fit_full
from components.models.registry import family_names, get_family
from components.models.torch_mlp import TorchMLPClassifier, TorchMLPRegressor
from components.space import resolve_space, suggest
from components.spec import parse_spec


@pytest.mark.parametrize("family", family_names())
def test_each_family_trains_on_every_task_it_serves(family):
    datasets = {"classification": ("sklearn:iris", "accuracy"), "regression": ("sklearn:diabetes", "r2")}
    for task in sorted(get_family(family).tasks):
        source, metric = datasets[task]
        spec = parse_spec({"data": {"source": source}, "model": {"family": family}, "objective": {"metric": metric}})
        params = suggest(optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3)).ask(), resolve_space(spec, task))
        if family == "torch_mlp":
            params["epochs"] = 3
        frame = read_source(source)
        model = fit_full(get_family(family).build(params, task, 0), frame, "target", [])
        predictions = model.predict(frame.drop(columns=["target"]).head(7))
        assert len(predictions) == 7


def test_torch_mlp_is_deterministic_for_a_seed_and_differs_across_seeds():
    frame = read_source("sklearn:breast_cancer")
    X, y = frame.drop(columns="target").to_numpy(), frame["target"].to_numpy()
    X = (X - X.mean(0)) / X.std(0)
    probabilities = [TorchMLPClassifier(epochs=3, seed=s, device="cpu").fit(X, y).predict_proba(X[:20]) for s in (7, 7, 8)]
    np.testing.assert_array_equal(probabilities[0], probabilities[1])
    assert not np.array_equal(probabilities[0], probabilities[2])


def test_torch_mlp_handles_string_labels_and_regression_scale():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    labels = np.where(X[:, 0] > 0, "yes", "no")
    classifier = TorchMLPClassifier(epochs=30, lr=1e-2, seed=0, device="cpu").fit(X, labels)
    assert set(classifier.predict(X)) <= {"yes", "no"}
    assert (classifier.predict(X) == labels).mean() > 0.9
    y = 1000 + 50 * X[:, 1]
    regressor = TorchMLPRegressor(epochs=60, lr=1e-2, seed=0, device="cpu").fit(X, y)
    assert np.abs(regressor.predict(X) - y).mean() < 20


def test_unknown_custom_family_is_a_spec_error():
    from components.errors import SpecError

    with pytest.raises(SpecError, match="model.family: cannot import 'nosuch.module:Family'"):
        get_family("nosuch.module:Family")
