"""The public surface of kubetune.components.analysis: what other packages, the flows and users import.

lazy_loader reads this file at import time (see __init__.py); type checkers read it as the package's stub.
"""

from .finalists import (
    DEFAULT_LABEL as DEFAULT_LABEL,
    Finalist as Finalist,
    FinalistScores as FinalistScores,
    Selection as Selection,
    SelectionRule as SelectionRule,
    compare as compare,
    pick_finalists as pick_finalists,
    repeats_for as repeats_for,
    select_winner as select_winner,
    significance_sentence as significance_sentence,
)
from .holdout_interval import holdout_intervals as holdout_intervals
from .importance import param_importances as param_importances, ranked_params as ranked_params
from .plots import Plot as Plot, study_plots as study_plots
from .report import ReportContent as ReportContent, render_report as render_report
from .statistics import (
    Comparison as Comparison,
    Interval as Interval,
    bootstrap_interval as bootstrap_interval,
    corrected_resampled_ttest as corrected_resampled_ttest,
    scores_per_run as scores_per_run,
    split_size_ratio as split_size_ratio,
)
