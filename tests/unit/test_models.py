import numpy as np
import optuna
import pytest

from kubetune.components.core import EvaluationTarget
from kubetune.components.data.frames import read_source
from kubetune.components.evaluation.cross_validation import fit_full
from kubetune.components.models import family_names, get_family
from kubetune.components.models.torch_mlp import TorchMLPClassifier, TorchMLPRegressor
from kubetune.components.search import resolve_space, suggest
from kubetune.components.spec import parse_spec


@pytest.mark.parametrize("family", family_names())
def test_each_family_trains_on_every_task_it_serves(family):
    datasets = {
        "classification": ("sklearn:iris", "accuracy"),
        "regression": ("sklearn:diabetes", "r2"),
    }
    for task in sorted(get_family(family).tasks):
        source, metric = datasets[task]
        spec = parse_spec(
            {
                "data": {"source": source},
                "model": {"family": family},
                "objective": {"metric": metric},
            }
        )
        params = suggest(
            optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3)).ask(),
            resolve_space(spec, task),
        )
        if family.startswith("torch_"):
            params["epochs"] = 3
        if family == "torch_cnn" and task == "regression":
            params["image_shape"] = "1x1x10"  # diabetes' 10 features as a 1x10 strip
        frame = read_source(source)
        model = fit_full(
            get_family(family).build(params, task, 0),
            frame,
            EvaluationTarget("target", (), (), None),
        )
        predictions = model.predict(frame.drop(columns=["target"]).head(7))
        assert len(predictions) == 7


def test_an_svm_regressor_gives_the_same_model_whatever_the_targets_units():
    """epsilon and C act on the standardized target: the same configuration fitted on prices in dollars
    and in thousands predicts the same prices."""
    frame = read_source("sklearn:diabetes")
    X, y = frame.drop(columns="target").to_numpy(), frame["target"].to_numpy()
    params = {"C": 3.0, "kernel": "rbf", "gamma": 0.1, "epsilon": 0.1}
    family = get_family("svm")
    in_units = family.build(params, "regression", 0).fit(X, y).predict(X[:20])
    in_thousandths = family.build(params, "regression", 0).fit(X, y / 1000).predict(X[:20])
    np.testing.assert_allclose(
        in_thousandths * 1000, in_units, rtol=1e-3
    )  # the solver stops at tol=1e-3


def test_torch_mlp_is_deterministic_for_a_seed_and_differs_across_seeds():
    frame = read_source("sklearn:breast_cancer")
    X, y = frame.drop(columns="target").to_numpy(), frame["target"].to_numpy()
    X = (X - X.mean(0)) / X.std(0)
    probabilities = [
        TorchMLPClassifier(epochs=3, seed=s, device="cpu").fit(X, y).predict_proba(X[:20])
        for s in (7, 7, 8)
    ]
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
    from kubetune.components.core import SpecError

    with pytest.raises(SpecError, match="model.family: cannot import 'nosuch.module:Family'"):
        get_family("nosuch.module:Family")


def test_architecture_space_is_conditional_and_only_active_layers_are_sampled():
    spec = parse_spec(
        {
            "data": {"source": "sklearn:digits"},
            "model": {"family": "torch_nas"},
            "objective": {"metric": "accuracy"},
        }
    )
    space = resolve_space(spec, "classification")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        params = suggest(study.ask(), space)
        widths = {k for k in params if k.startswith("width_")}
        assert widths == {f"width_{i}" for i in range(params["n_layers"])}
        assert ("residual" in params) == (params["n_layers"] > 1)


def test_nas_networks_follow_their_structure():
    from torch import nn

    from kubetune.components.models.torch_nas import TorchNASClassifier

    model = TorchNASClassifier(
        n_layers=3,
        width_0=32,
        width_1=32,
        width_2=16,
        norm="layer",
        activation="gelu",
        residual=True,
    )
    network = model._network(10, 3)
    linears = [m for m in network.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (10, 32),
        (32, 32),
        (32, 16),
        (32, 16),
        (16, 3),
    ]  # (32,16) skip projection
    assert sum(isinstance(m, nn.LayerNorm) for m in network.modules()) == 3
    assert sum(isinstance(m, nn.GELU) for m in network.modules()) == 3
    plain = TorchNASClassifier(n_layers=1, width_0=8, norm="none")._network(4, 2)
    assert not any(isinstance(m, (nn.LayerNorm, nn.BatchNorm1d)) for m in plain.modules())


def test_cnn_reads_rows_as_images_and_refuses_shapes_that_do_not_fit():
    import torch

    from kubetune.components.models.torch_nas import TorchCNNClassifier, image_shape

    assert image_shape(64, "auto") == (1, 8, 8) and image_shape(3072, "3x32x32") == (3, 32, 32)
    with pytest.raises(ValueError, match="10 features are not a square image"):
        image_shape(10, "auto")
    with pytest.raises(
        ValueError, match="image_shape 1x4x4 has 16 values, the data has 64 features"
    ):
        image_shape(64, "1x4x4")
    network = TorchCNNClassifier(n_blocks=3, channels_0=8, channels_1=16, channels_2=32)._network(
        64, 10
    )
    assert network(torch.zeros(5, 64)).shape == (5, 10)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in network.modules()) == 3


def test_cnn_learns_digits():
    frame = read_source("sklearn:digits")
    X, y = frame.drop(columns="target").to_numpy() / 16, frame["target"].to_numpy()
    from kubetune.components.models.torch_nas import TorchCNNClassifier

    model = TorchCNNClassifier(n_blocks=2, epochs=4, device="cpu").fit(X[:1400], y[:1400])
    assert (model.predict(X[1400:]) == y[1400:]).mean() > 0.85


def test_a_checkpoint_resumes_weights_optimizer_and_epoch_count():
    import torch

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    first = TorchMLPClassifier(epochs=2, device="cpu").fit(X, y)
    state = first.training_state_
    assert state["epochs_done"] == 2
    frozen = TorchMLPClassifier(epochs=1, lr=0.0, weight_decay=0.0, device="cpu")
    frozen.resume_from = state
    frozen.fit(X, y)
    assert frozen.training_state_["epochs_done"] == 3
    for name, tensor in state[
        "network"
    ].items():  # lr 0: resumed weights are the checkpoint's, untouched
        torch.testing.assert_close(frozen.training_state_["network"][name], tensor)
    np.testing.assert_allclose(frozen.predict_proba(X), first.predict_proba(X), rtol=1e-5)
    assert frozen.training_state_["optimizer"]["param_groups"][0]["lr"] == 0.0
