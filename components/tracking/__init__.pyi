"""Public surface of kubetune.components.tracking (see __init__.py)."""

from .pareto_plot import pareto_png as pareto_png
from .provenance import all_package_versions as all_package_versions, git_commit as git_commit, package_versions as package_versions
from .tracker import DATA_TAG as DATA_TAG, PARENT_TAG as PARENT_TAG, REFIT_TAG as REFIT_TAG, REGISTERED_TAG as REGISTERED_TAG, ROLE_TAG as ROLE_TAG, STATE_TAG as STATE_TAG, Tracker as Tracker, param_value as param_value, resolve_tracking_uri as resolve_tracking_uri, run_url as run_url, safe_uri as safe_uri
