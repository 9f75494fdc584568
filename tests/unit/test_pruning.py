import optuna
import pytest

from kubetune.components.models import Fidelity
from kubetune.components.search import build_pruner, resolve_pruner
from kubetune.components.spec import ParamSpec, PrunerSpec

EPOCHS = Fidelity(param="epochs", unit="epoch", step=1)
TREES = Fidelity(param="n_estimators", unit="tree", step=10)


def space(**params):
    return {name: ParamSpec.model_validate(value) for name, value in params.items()}


def test_no_pruner_resolves_to_none_and_a_nop_pruner():
    assert resolve_pruner(PrunerSpec(), EPOCHS, {}, {}, 5) is None
    assert isinstance(build_pruner(None), optuna.pruners.NopPruner)


def test_resources_come_from_the_family_step_and_the_space_upper_bound():
    settings = resolve_pruner(
        PrunerSpec(kind="hyperband"),
        TREES,
        space(n_estimators={"type": "int", "low": 20, "high": 300}),
        {},
        5,
    )
    assert (settings["min_resource"], settings["max_resource"], settings["reduction_factor"]) == (
        10,
        300,
        5,
    )
    fixed = resolve_pruner(PrunerSpec(kind="hyperband"), EPOCHS, {}, {"epochs": 40}, 5)
    assert (fixed["min_resource"], fixed["max_resource"]) == (1, 40)
    folds = resolve_pruner(PrunerSpec(kind="median"), None, {}, {}, 5)
    assert (folds["min_resource"], folds["max_resource"]) == (1, 4)  # fold indices 0..4
    explicit = resolve_pruner(
        PrunerSpec(kind="successive_halving", min_resource=3, reduction_factor=3), EPOCHS, {}, {}, 5
    )
    assert (explicit["min_resource"], explicit["reduction_factor"]) == (3, 3)


def test_a_neural_network_is_first_judged_after_a_ninth_of_its_epochs_and_one_in_three_goes_on():
    """Its early epochs rank configurations poorly (docs/benchmarks.md, multi-fidelity): the defaults
    come from the family's fidelity; what the spec sets wins."""
    from kubetune.components.models import get_family

    mlp = get_family("torch_mlp").fidelity
    epochs = space(epochs={"type": "int", "low": 5, "high": 27})
    sh = resolve_pruner(PrunerSpec(kind="successive_halving"), mlp, epochs, {}, 5)
    assert (sh["min_resource"], sh["max_resource"], sh["reduction_factor"]) == (3, 27, 3)
    longer = resolve_pruner(PrunerSpec(kind="hyperband"), mlp, {}, {"epochs": 100}, 5)
    assert (longer["min_resource"], longer["reduction_factor"]) == (11, 3)
    median = resolve_pruner(PrunerSpec(kind="median"), mlp, epochs, {}, 5)
    assert median["n_warmup_steps"] == 3
    set_in_spec = resolve_pruner(
        PrunerSpec(kind="successive_halving", min_resource=1, reduction_factor=4, n_warmup_steps=0),
        mlp,
        epochs,
        {},
        5,
    )
    assert (
        set_in_spec["min_resource"],
        set_in_spec["reduction_factor"],
        set_in_spec["n_warmup_steps"],
    ) == (1, 4, 0)
    # trees and boosting iterations keep one step and one in five; so does pruning by folds
    trees = resolve_pruner(PrunerSpec(kind="median"), TREES, {}, {"n_estimators": 200}, 5)
    assert (trees["min_resource"], trees["reduction_factor"], trees["n_warmup_steps"]) == (10, 5, 0)
    assert get_family("torch_nas").fidelity == mlp


def test_resolved_settings_travel_as_json_and_build_the_same_pruner_everywhere():
    import json

    settings = json.loads(
        json.dumps(
            resolve_pruner(
                PrunerSpec(kind="hyperband"),
                EPOCHS,
                space(epochs={"type": "int", "low": 5, "high": 81}),
                {},
                5,
            )
        )
    )
    pruner = build_pruner(settings)
    assert isinstance(pruner, optuna.pruners.HyperbandPruner)
    assert (pruner._min_resource, pruner._max_resource, pruner._reduction_factor) == (1, 81, 5)
    sh = build_pruner(resolve_pruner(PrunerSpec(kind="successive_halving"), EPOCHS, {}, {}, 5))
    assert (
        isinstance(sh, optuna.pruners.SuccessiveHalvingPruner)
        and sh._min_resource == 1
        and sh._reduction_factor == 5
    )
    median = build_pruner(
        resolve_pruner(
            PrunerSpec(kind="median", n_startup_trials=2, n_warmup_steps=3), EPOCHS, {}, {}, 5
        )
    )
    assert (
        isinstance(median, optuna.pruners.MedianPruner)
        and median._n_startup_trials == 2
        and median._n_warmup_steps == 3
    )


@pytest.mark.parametrize("kind", ["median", "successive_halving", "hyperband"])
def test_each_pruner_stops_a_clearly_worse_curve_in_a_shared_study(kind):
    pruner = build_pruner(
        resolve_pruner(
            PrunerSpec(kind=kind, n_startup_trials=2),
            EPOCHS,
            space(epochs={"type": "int", "low": 1, "high": 27}),
            {},
            5,
        )
    )
    # Hyperband puts a trial in a bracket by hashing the study name and trial number: with 6 good trials, 4
    # of 60 random names left the bad trial's bracket without enough finished rivals; 12 left none of 60.
    # The name is fixed so a run is repeatable.
    study = optuna.create_study(study_name="shared-curves", direction="maximize", pruner=pruner)
    for good in range(12):
        trial = study.ask()
        for step in range(1, 28):
            trial.report(0.9 + 0.001 * step + 0.0001 * good, step)
            trial.should_prune()  # rung-based pruners record each trial's rungs when asked
        study.tell(trial, 0.95)
    bad = study.ask()
    stopped_at = None
    for step in range(1, 28):
        bad.report(0.1, step)
        if bad.should_prune():
            stopped_at = step
            break
    assert stopped_at is not None and stopped_at < 27
