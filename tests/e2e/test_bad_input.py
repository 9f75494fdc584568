"""Bad input through the real CLI: one line naming the field, exit code 2, no traceback, nothing recorded."""

import os

import pandas as pd
import pytest

from tests.conftest import REPO, run_cli, write_spec

BASE = """
study: bad
data: {{source: {source}, target: {target}}}
model: {{family: {family}{space}}}
objective: {{metric: {metric}}}
tracking: {{mlflow_uri: sqlite:///mlflow.db}}
"""


def spec_text(
    source="sklearn:breast_cancer",
    target="target",
    family="random_forest",
    metric="roc_auc",
    space="",
):
    return BASE.format(source=source, target=target, family=family, metric=metric, space=space)


@pytest.fixture
def data_files(tmp_path):
    pd.DataFrame({"a": [1.0, 2.0, 3.0] * 10, "y": [0, 1, None] * 10}).to_csv(
        tmp_path / "nan_target.csv", index=False
    )
    pd.DataFrame(
        {"a": range(40), "day": pd.date_range("2024-01-01", periods=40), "y": [0, 1] * 20}
    ).to_parquet(tmp_path / "dated.parquet")
    pd.DataFrame({"a": range(40), "tags": [["x", "y"], ["z"]] * 20, "y": [0, 1] * 20}).to_parquet(
        tmp_path / "nested.parquet"
    )
    pd.DataFrame({"a": [], "y": []}).to_csv(tmp_path / "empty.csv", index=False)
    pd.DataFrame({"a": range(40), "y": [0, 1] * 20}).to_csv(tmp_path / "small.csv", index=False)
    return tmp_path


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"family": "gradient_magic"}, "model.family: unknown model family 'gradient_magic'"),
        ({"target": "label"}, "data.target: column 'label' not found in sklearn:breast_cancer"),
        (
            {"space": ", space: {max_depth: {type: int, low: 40, high: 32}}"},
            "model.space.max_depth: low (40) is greater than high (32)",
        ),
        (
            {"space": ", space: {max_features: {type: float, low: 0, high: 1, log: true}}"},
            "model.space.max_features: log range needs low > 0",
        ),
        ({"source": "empty.csv", "target": "y"}, "data.source: 'empty.csv' has no rows"),
        (
            {"source": "nan_target.csv", "target": "y"},
            "data.target: 10 of 30 rows have no target value (NaN; a CSV cell that is empty or reads NA",
        ),
        ({"metric": "auroc"}, "objective.metric: unknown metric 'auroc'"),
        # a NaN bound reached the sampler after the MLflow parent run was created (left RUNNING)
        (
            {"space": ", space: {max_features: {type: float, low: 0.1, high: .nan}}"},
            "model.space.max_features.high: Input should be a finite number",
        ),
        (
            {"metric": "f1, positive_class: benign"},
            "objective.positive_class: 'benign' is not a class of 'target' (0, 1)",
        ),
        (
            {"source": "dated.parquet", "target": "y"},
            "data.source: column 'day' holds datetime64[us] values, which kubetune does not encode; list it in data.drop",
        ),
        # a Parquet list column ended in pandas' "unhashable type" traceback (the data's fingerprint)
        (
            {"source": "nested.parquet", "target": "y"},
            "data.source: column 'tags' holds lists or mappings (a nested Parquet column), which kubetune does not encode; list it in data.drop",
        ),
        (
            {"space": ", params: {n_estimator: 10}"},
            "model.params.n_estimator: random_forest has no parameter 'n_estimator' (did you mean 'n_estimators'?)",
        ),
        ({"metric": "rmse"}, "objective.metric: 'rmse' does not fit a classification task"),
        ({"source": "missing.csv"}, "data.source: no such file 'missing.csv'"),
        (
            {
                "source": "small.csv",
                "target": "y",
                "family": "knn",
                "space": ", space: {n_neighbors: {type: int, low: 1, high: 50}}",
            },
            "model.space.n_neighbors: 50 is more than the 25 rows the smallest cross-validation split trains on",
        ),
        (
            {
                "source": "sklearn:digits",
                "family": "torch_cnn",
                "metric": "accuracy",
                "space": ", params: {image_shape: 3x3x3}",
            },
            "model.params.image_shape: image_shape 3x3x3 has 27 values, the data has 64 features",
        ),
    ],
)
def test_bad_spec_stops_before_any_work(data_files, kwargs, expected):
    spec = write_spec(data_files / "spec.yaml", spec_text(**kwargs))
    result = run_cli(["tune", str(spec), "--no-progress"], cwd=data_files)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [f"kubetune: error: {expected}"] or (
        len(lines) == 1 and lines[0].startswith(f"kubetune: error: {expected}")
    )
    assert "Traceback" not in result.stderr + result.stdout
    assert not (data_files / "mlflow.db").exists() and not (data_files / ".kubetune").exists()


def test_a_downloaded_spec_with_a_masked_password_names_it(tmp_path, monkeypatch):
    """spec.yaml from a study's parent run reads ``postgresql://kubetune:***@...``: run as it is, the job
    stops on that, not on an authentication error from the database."""
    monkeypatch.delenv("KUBETUNE_STORAGE_URL", raising=False)
    text = spec_text() + "storage: {url: 'postgresql://kubetune:***@127.0.0.1:5432/kubetune'}\n"
    result = run_cli(
        ["tune", str(write_spec(tmp_path / "spec.yaml", text)), "--no-progress"], cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "kubetune: error: storage.url: the password in postgresql://kubetune:***@127.0.0.1:5432/kubetune is the mask "
        "kubetune records in place of a password (a downloaded spec.yaml): give the real one, or set KUBETUNE_STORAGE_URL"
    ]
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.parametrize(
    "uri, expected",
    [
        (
            "sqlite://",
            "sqlite:// is an in-memory database, gone when the command ends; name a file "
            "(sqlite:///mlflow.db) or a tracking server",
        ),
        (
            "sqlite:///notes.txt/mlflow.db",
            "cannot create notes.txt/mlflow.db: {cwd}/notes.txt is not a folder",
        ),
        ("sqlite:///mlflow.db", "mlflow.db is not a file"),
        (
            "sqlite:///notes.txt",
            "notes.txt is not a SQLite database (it does not begin with SQLite's header)",
        ),
        (
            "sqlite:////proc/kubetune/mlflow.db",
            "cannot create /proc/kubetune/mlflow.db: no file can be created in /proc (No such file or directory)",
        ),
    ],
)
def test_a_tracking_database_that_cannot_be_written_is_one_line(tmp_path, uri, expected):
    """Each of these ended in SQLAlchemy's traceback ("unable to open database file", "file is not a
    database") or, in memory, recorded a whole study that was gone when the command ended."""
    (tmp_path / "notes.txt").write_text("a file where a folder was meant\n")
    (tmp_path / "mlflow.db").mkdir()  # a folder where the database file was meant
    text = spec_text().replace("sqlite:///mlflow.db", uri)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "KUBETUNE_"))}
    result = run_cli(
        ["tune", str(write_spec(tmp_path / "spec.yaml", text)), "--no-progress"],
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"kubetune: error: tracking.mlflow_uri: {expected.format(cwd=tmp_path)}"
    ]
    assert (tmp_path / "mlflow.db").is_dir() and not (tmp_path / ".kubetune").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlflow.db", "notes.txt", "spec.yaml"]
    assert (
        tmp_path / "notes.txt"
    ).read_text() == "a file where a folder was meant\n"  # left as it was


def test_cli_override_is_validated_too(tmp_path):
    result = run_cli(
        ["tune", str(REPO / "examples" / "breast_cancer_rf.yaml"), "--n-trials", "0"], cwd=tmp_path
    )
    assert result.returncode == 2 and result.stderr.startswith("kubetune: error: search.n_trials:")


def test_a_seed_numpy_cannot_take_is_one_line(tmp_path):
    result = run_cli(
        ["tune", str(REPO / "examples" / "breast_cancer_rf.yaml"), "--seed", "-5"], cwd=tmp_path
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "kubetune: error: search.seed: Input should be greater than or equal to 0"
    ]


def test_validate_command_checks_without_recording(tmp_path):
    result = run_cli(["validate", str(REPO / "examples" / "breast_cancer_rf.yaml")], cwd=tmp_path)
    assert result.returncode == 0 and "ok (classification, 569 rows, 30 features" in result.stdout
    assert "warning" not in result.stderr, result.stderr
    assert not (tmp_path / "mlflow.db").exists()


def test_columns_that_name_rows_are_pointed_out_and_data_drop_silences_it(tmp_path):
    """mtcars as R ships it: the car names are the CSV's unnamed first column. They were one-hot encoded,
    one column per car, and the registered model required a car name of every caller."""
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
    frame.insert(0, "bottle", [f"bottle-{i}" for i in range(len(frame))])
    frame.to_csv(tmp_path / "wine.csv")  # pandas writes its index as an unnamed first column
    text = "data: {source: wine.csv, target: cultivar%s}\nmodel: {family: knn}\nobjective: {metric: accuracy}\n"
    flagged = run_cli(
        ["validate", str(write_spec(tmp_path / "plain.yaml", text % ""))], cwd=tmp_path
    )
    assert flagged.returncode == 0, flagged.stderr
    warning = [
        line for line in flagged.stderr.splitlines() if line.startswith("kubetune: warning:")
    ]
    assert (
        len(warning) == 1 and "'Unnamed: 0', 'bottle'" in warning[0] and "data.drop" in warning[0]
    ), flagged.stderr
    dropped = run_cli(
        [
            "validate",
            str(write_spec(tmp_path / "dropped.yaml", text % ", drop: ['Unnamed: 0', bottle]")),
        ],
        cwd=tmp_path,
    )
    assert dropped.returncode == 0 and "warning" not in dropped.stderr, dropped.stderr
    assert "13 features" in dropped.stdout


def test_a_number_column_with_text_cells_is_pointed_out_before_and_after_tuning(tmp_path, cli_env):
    """A column of ages with "unknown" and "42 years" cells is read as text: one-hot encoded, and the
    registered model then required strings. validate says so in one warning line, naming the column, the
    cells and data.missing_values; tune records the same line on the parent run."""
    import mlflow
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame[["mean radius", "mean texture", "target"]]
    frame.insert(0, "age", [str(30 + i % 40) for i in range(len(frame))])
    frame.loc[[3, 50, 51], "age"] = ["unknown", "42 years", "unknown"]
    frame.to_csv(tmp_path / "patients.csv", index=False)
    text = "study: ages\ndata: {source: patients.csv, target: target%s}\nmodel: {family: logistic_regression}\nobjective: {metric: accuracy}\nsearch: {n_trials: 2, parallelism: 1, seed: 1}\n"
    checked = run_cli(
        ["validate", str(write_spec(tmp_path / "plain.yaml", text % ""))], cwd=tmp_path
    )
    assert checked.returncode == 0, checked.stderr
    [warning] = [
        line for line in checked.stderr.splitlines() if line.startswith("kubetune: warning:")
    ]
    assert (
        "column 'age' is read as text because 3 of its 569 cells are not numbers ('unknown', '42 years')"
        in warning
    )
    assert "data.missing_values" in warning
    fixed = write_spec(tmp_path / "fixed.yaml", text % ', missing_values: ["", unknown, 42 years]')
    clean = run_cli(["validate", str(fixed)], cwd=tmp_path)
    assert clean.returncode == 0 and "warning" not in clean.stderr, clean.stderr
    tuned = run_cli(
        ["tune", str(tmp_path / "plain.yaml"), "--no-progress"], cwd=tmp_path, env=cli_env
    )
    assert tuned.returncode == 0, tuned.stderr[-3000:]
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    [parent] = client.search_runs(
        [client.get_experiment_by_name("ages").experiment_id], "tags.`kubetune.role` = 'study'"
    )
    assert parent.data.tags["kubetune.data_warnings"] == warning.removeprefix("kubetune: warning: ")


def test_missing_values_turn_a_class_the_reader_drops_back_into_a_class(tmp_path):
    """R's Arthritis outcome has a class "None": by default its rows read as missing targets; with
    ``data.missing_values: [""]`` the study sees three classes."""
    rows = "".join(
        f"{age},{outcome}\n" for age, outcome in zip(range(20, 80), ["None", "Some", "Marked"] * 20)
    )
    (tmp_path / "arthritis.csv").write_text("age,improved\n" + rows)
    text = "data: {source: arthritis.csv, target: improved%s}\nmodel: {family: knn}\nobjective: {metric: accuracy}\n"
    default = run_cli(
        ["validate", str(write_spec(tmp_path / "default.yaml", text % ""))], cwd=tmp_path
    )
    assert (
        default.returncode == 2
        and "data.target: 20 of 60 rows have no target value" in default.stderr
    )
    chosen = run_cli(
        ["validate", str(write_spec(tmp_path / "chosen.yaml", text % ", missing_values: ['']"))],
        cwd=tmp_path,
    )
    assert chosen.returncode == 0, chosen.stderr
    assert "ok (classification, 60 rows, 1 feature," in chosen.stdout


@pytest.mark.parametrize("command", [[], ["tune"], ["validate"]])
def test_every_command_has_help(tmp_path, command):
    result = run_cli([*command, "--help"], cwd=tmp_path)
    assert result.returncode == 0 and "usage: kubetune" in result.stdout


def test_dry_run_prints_the_first_job_and_contacts_nothing(tmp_path):
    import yaml

    env = {
        "KUBECONFIG": str(tmp_path / "no-such-kubeconfig"),
        "KUBETUNE_STORAGE_URL": "postgresql://u:pw@127.0.0.1:1/x",
        "PATH": "/usr/bin:/bin",
    }
    result = run_cli(
        ["tune", str(REPO / "examples" / "breast_cancer_k8s_gpu.yaml"), "--dry-run", "--seed", "3"],
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    job = yaml.safe_load(result.stdout)
    assert job["kind"] == "Job" and job["metadata"]["labels"]["kubetune.io/trial"] == "0"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    request = yaml.safe_load(
        next(e["value"] for e in container["env"] if e["name"] == "KUBETUNE_TRIAL_REQUEST")
    )
    assert (
        request["data_uri"].startswith("s3://ml-artifacts/kubetune/breast-cancer-mlp-gpu/")
        and request["params"]
    )
    assert "pw@" not in result.stdout and "&id" not in result.stdout
    assert (
        "study created in memory" not in result.stderr
    )  # Optuna's log line about the scratch study
    assert not any(tmp_path.iterdir())  # nothing written


def test_a_packed_dry_run_prints_the_first_groups_job(tmp_path):
    """``packing: {trials: 4, mode: fused}``: one Job for four trials, asked as the controller asks them
    (the structure drawn by the first, the rest drawn per member), listing every member."""
    import kubernetes_validate
    import yaml

    spec = yaml.safe_load((REPO / "examples" / "breast_cancer_k8s_gpu.yaml").read_text())
    spec["executor"]["packing"] = {"trials": 4, "mode": "fused"}
    path = write_spec(tmp_path / "spec.yaml", yaml.safe_dump(spec))
    env = {**os.environ, "KUBETUNE_STORAGE_URL": "postgresql://u:pw@127.0.0.1:1/x"}
    result = run_cli(["tune", str(path), "--dry-run", "--seed", "3"], cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    job = yaml.safe_load(result.stdout)
    kubernetes_validate.validate(job, "1.29", strict=True)
    assert job["metadata"]["annotations"]["kubetune.io/members"] == "0,1,2,3"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"  # one GPU for the group
    group = yaml.safe_load(
        next(e["value"] for e in container["env"] if e["name"] == "KUBETUNE_TRIAL_GROUP")
    )
    assert [m["trial_number"] for m in group] == [0, 1, 2, 3]
    assert {(m["packing"]["group"], m["packing"]["mode"], m["packing"]["size"]) for m in group} == {
        ("g0", "fused", 4)
    }
    structure = {tuple(m["params"][k] for k in ("depth", "width", "batch_size")) for m in group}
    assert len(structure) == 1
    assert len({m["params"]["lr"] for m in group}) == 4
    assert "pw@" not in result.stdout


def test_dry_run_refuses_a_parameter_the_model_does_not_take(tmp_path):
    """The printed Job would fail in every pod: the dry run checks parameter names as a real run does."""
    import yaml

    spec = yaml.safe_load((REPO / "examples" / "breast_cancer_k8s_gpu.yaml").read_text())
    spec["model"]["params"] = {"widht": 64}
    path = write_spec(tmp_path / "spec.yaml", yaml.safe_dump(spec))
    env = {**os.environ, "KUBETUNE_STORAGE_URL": "postgresql://u:pw@127.0.0.1:1/x"}
    result = run_cli(["tune", str(path), "--dry-run"], cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "kubetune: error: model.params.widht: torch_mlp has no parameter 'widht' (did you mean 'width'?)"
    ]
    assert result.stdout == ""


@pytest.mark.parametrize("command", [["validate"], ["tune", "--dry-run"]])
def test_a_cluster_spec_without_a_study_storage_names_the_setting_in_validate_and_dry_run(
    tmp_path, command
):
    """validate asked for a storage URL without naming KUBETUNE_STORAGE_URL while the dry run of the same
    file printed a Job whose every pod would run with "storage_url": null."""
    env = {k: v for k, v in os.environ.items() if k != "KUBETUNE_STORAGE_URL"}
    result = run_cli(
        [command[0], str(REPO / "examples" / "breast_cancer_k8s_gpu.yaml"), *command[1:]],
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "kubetune: error: storage.url: the kubernetes executor needs a study storage pods can reach: set storage.url or "
        "KUBETUNE_STORAGE_URL to a postgresql:// URL (pods read it through executor.kubernetes.secretEnv)"
    ]


@pytest.mark.parametrize(
    "executor, expected",
    [
        # the API server's default field validation would drop the misspelt field: pods unschedulable on GPU nodes
        (
            "tolerations: [{key: nvidia.com/gpu, opertor: Exists, effect: NoSchedule}]",
            "executor.kubernetes.tolerations.0.opertor: unknown field (did you mean 'operator'?)",
        ),
        (
            "resources: {limits: {memory: 16GB}}",
            "executor.kubernetes.resources.limits.memory: '16GB' is not a Kubernetes quantity",
        ),
        (
            "resources: {requests: {nvidia.com/gpu: 1}}",
            "executor.kubernetes.resources.limits.nvidia.com/gpu: a device resource needs a limit equal to its request",
        ),
        (
            "namespace: ML_Team",
            "executor.kubernetes.namespace: 'ML_Team' is not a valid Kubernetes name",
        ),
    ],
)
def test_a_bad_kubernetes_setting_stops_the_job_and_its_dry_run(tmp_path, executor, expected):
    """Before this check these reached the API server only with the first trial's Job, after the study began."""
    text = spec_text() + f"executor: {{kind: kubernetes, kubernetes: {{{executor}}}}}\n"
    spec = write_spec(tmp_path / "spec.yaml", text)
    for extra in ([], ["--dry-run"]):
        result = run_cli(["tune", str(spec), "--no-progress", *extra], cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines() == [result.stderr.strip()]
        assert result.stderr.startswith(f"kubetune: error: {expected}")
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / ".kubetune").exists()
