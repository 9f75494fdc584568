import math

import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes, load_iris

from kubetune.components.data import compute_meta_features


def iris():
    data = load_iris(as_frame=True)
    return data.data, data.target


def test_classification_meta_features_describe_iris():
    X, y = iris()
    meta = compute_meta_features(X, y, "classification", seed=0)
    assert meta["n_rows"] == 150 and meta["n_features"] == 4 and meta["n_classes"] == 3
    assert meta["n_numeric"] == 4 and meta["n_categorical"] == 0 and meta["missing_ratio"] == 0.0
    assert (
        math.isclose(meta["class_entropy"], 1.0) and meta["imbalance_ratio"] == 1.0
    )  # 50 rows per class
    assert math.isclose(meta["dimensionality"], 4 / 150)
    # iris is easy for 1-NN and naive Bayes; a stump separates one class of three (~2/3 balanced accuracy)
    assert meta["landmark_1nn"] > 0.9 and meta["landmark_naive_bayes"] > 0.9
    assert 0.5 < meta["landmark_stump"] < 0.75
    assert all(math.isfinite(v) for v in meta.values())
    assert "target_skew" not in meta


def test_imbalance_missing_values_and_categorical_columns_are_measured():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=200), "colour": rng.choice(["red", "blue"], 200)})
    X.loc[:49, "x"] = np.nan
    y = pd.Series([1] * 20 + [0] * 180)
    meta = compute_meta_features(X, y, "classification", seed=0)
    assert meta["missing_ratio"] == 50 / 400 and meta["rows_with_missing_ratio"] == 50 / 200
    assert meta["n_categorical"] == 1 and meta["categorical_ratio"] == 0.5
    assert math.isclose(meta["imbalance_ratio"], 20 / 180) and math.isclose(
        meta["majority_class_ratio"], 0.9
    )
    assert meta["class_entropy"] < 0.5


def test_regression_meta_features_include_target_shape_and_a_linear_landmarker():
    data = load_diabetes(as_frame=True)
    meta = compute_meta_features(data.data, data.target, "regression", seed=0)
    assert meta["target_skew"] > 0  # diabetes progression is right-skewed
    assert 0.3 < meta["landmark_linear"] < 0.6  # ridge on diabetes explains ~45% of the variance
    assert "n_classes" not in meta and "class_entropy" not in meta


def test_landmarkers_subsample_large_data_and_are_seeded():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(5000, 3)), columns=list("abc"))
    y = pd.Series((X["a"] > 0).astype(int))
    first = compute_meta_features(X, y, "classification", seed=3)
    assert first == compute_meta_features(X, y, "classification", seed=3)
    assert (
        first["n_rows"] == 5000 and first["landmark_stump"] > 0.95
    )  # one split on "a" is the answer
