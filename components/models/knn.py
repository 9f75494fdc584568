"""k-nearest neighbours: a strong baseline on small, well-scaled data."""

from __future__ import annotations

from typing import Any

from kubetune.components.models.base import BOTH, ModelFamily, categorical, int_range


class KNNFamily(ModelFamily):
    name = "knn"
    tasks = BOTH
    row_bounded = ("n_neighbors",)  # more neighbours than training rows is an error in scikit-learn

    def default_space(self, task: str) -> dict[str, dict[str, Any]]:
        return {
            "n_neighbors": int_range(1, 50, log=True),
            "weights": categorical("uniform", "distance"),
            "p": categorical(1, 2),
        }

    def build(self, params: dict[str, Any], task: str, seed: int | None) -> Any:
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

        cls = KNeighborsClassifier if task == "classification" else KNeighborsRegressor
        return cls(**params)
