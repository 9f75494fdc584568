"""A GridSearchCV user's code, moved to kubetune by changing one line.

    .venv/bin/python examples/search_cv_drop_in.py

The search is the same call with the same results attributes (cv_results_, best_params_,
best_estimator_, ...); kubetune picks the sampler (here the whole grid fits in n_trials, so it runs
the grid; a continuous space gets the Gaussian process or TPE) and, with executor="kubernetes",
runs each candidate as a trial Job.
"""

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from kubetune import KubetuneSearchCV

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
model = make_pipeline(StandardScaler(), SVC())
grid = {"svc__C": [0.1, 1, 10, 100], "svc__gamma": ["scale", 0.001, 0.01]}

# before: search = GridSearchCV(model, grid, cv=5, n_jobs=2)
search = KubetuneSearchCV(model, grid, n_trials=12, cv=5, n_jobs=2)
search.fit(X_train, y_train)
print(f"{search.sampler_.name}: {search.sampler_.reason}")
print("best:", search.best_params_, f"CV accuracy {search.best_score_:.4f}")
print(f"held-out accuracy {search.score(X_test, y_test):.4f}")

# a continuous space instead of a grid, recorded in MLflow as a kubetune study
search = KubetuneSearchCV(
    model,
    {
        "svc__C": {"type": "float", "low": 0.01, "high": 100, "log": True},
        "svc__gamma": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
    },
    n_trials=20,
    cv=5,
    n_jobs=2,
    random_state=0,
    experiment="digits-svc",
    tracking_uri="sqlite:///mlflow.db",
    registered_model="digits-svc",
)
search.fit(X_train, y_train)
print(
    f"{search.sampler_.name}: best {search.best_params_}, CV {search.best_score_:.4f}, "
    f"held-out {search.score(X_test, y_test):.4f}, MLflow run {search.parent_run_id_}"
)
