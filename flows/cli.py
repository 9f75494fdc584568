"""``kubetune``: the command line.

Everything that can be wrong with the input is checked (``kubetune.components.pipeline.preflight_checks``) before Prefect is even
imported, so a bad spec costs a fraction of a second and prints one line naming the field, exit code 2,
with nothing recorded. Exit codes: 0 done, 1 the job failed (for example every trial failed), 2 bad
input, 130 interrupted (re-run the same command to resume).
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import threading
from collections.abc import Sequence
from importlib import metadata
from typing import TYPE_CHECKING, Any, NoReturn

from kubetune.components.core import KubetuneError, SpecError, redact_text
from kubetune.flows.api import patient_prefect_startup, quiet_defaults

if TYPE_CHECKING:
    from kubetune.components.pipeline import RefitSummary
    from kubetune.flows.prefect_server import ThrowawayServer

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubetune",
        description="Hyperparameter tuning: Optuna search, Prefect flows, MLflow tracking, Kubernetes trials.",
    )
    try:
        version = metadata.version("kubetune")
    except metadata.PackageNotFoundError:
        version = "unknown"
    parser.add_argument("--version", action="version", version=f"kubetune {version}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    tune = commands.add_parser(
        "tune",
        help="run a tuning job from a spec",
        description="Run a tuning job: preprocessing, search, refit of the best configuration, one "
        "evaluation on the held-out test set; everything recorded in MLflow. Re-running the same "
        "command with the same study name resumes the study.",
    )
    _add_spec_arguments(tune)
    tune.add_argument("--no-progress", action="store_true", help="no progress bar")
    tune.add_argument(
        "--dry-run",
        action="store_true",
        help="print, as YAML, the Kubernetes Job the first trial would get; contacts no cluster, records nothing",
    )
    tune.add_argument("-v", "--verbose", action="store_true", help="show Prefect's own log lines")

    retrain = commands.add_parser(
        "retrain",
        help="tune on fresh data, then promote the model only if it beats the champion",
        description="Scheduled retraining: tune on the data the spec points at now (one study per data "
        "version, warm-started from the pipeline's previous study), refit, score the challenger and the "
        "model holding the alias on the same new held-out test set, and move the alias only when the "
        "challenger wins by the margin. Both scores and the decision are logged to MLflow.",
    )
    _add_spec_arguments(retrain)
    retrain.add_argument(
        "--margin",
        type=float,
        default=0.005,
        help="how much better (primary metric, its units) the challenger must score (default 0.005)",
    )
    retrain.add_argument(
        "--alias", default="champion", help="the registry alias to move (default: champion)"
    )
    retrain.add_argument("--no-progress", action="store_true", help="no progress bar")
    retrain.add_argument(
        "-v", "--verbose", action="store_true", help="show Prefect's own log lines"
    )

    validate = commands.add_parser(
        "validate",
        help="check a spec and its data without running anything",
        description="Check the spec, read the data and check it against the spec; records nothing.",
    )
    _add_spec_arguments(validate)

    report = commands.add_parser(
        "report",
        help="write the HTML report of a finished study",
        description="Write one self-contained HTML page for a study (summary, finalists and their "
        "significance, held-out intervals, importances, plots, spec, provenance, cost) and log it on "
        "the study's MLflow run as report.html.",
    )
    report.add_argument("study", help="the study's name")
    report.add_argument(
        "-o", "--output", help="where to write the page (default: <study>-report.html)"
    )
    report.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or the local store)",
    )
    report.add_argument(
        "--storage",
        help="study storage URL (default: KUBETUNE_STORAGE_URL, the study's spec, or the local journal)",
    )
    return parser


def _add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="path to the tuning spec (YAML)")
    parser.add_argument("--n-trials", type=int, help="number of trials (search.n_trials)")
    parser.add_argument("--parallelism", type=int, help="trials at a time (search.parallelism)")
    parser.add_argument("--study-name", help="study name; the same name resumes the study")
    parser.add_argument("--seed", type=int, help="random seed (search.seed)")
    parser.add_argument(
        "--timeout", type=float, help="seconds after which no new trial starts (search.timeout)"
    )
    parser.add_argument(
        "--sampler", help="grid, random, tpe, gp, cmaes, nsga2, nsga3, qmc or auto (search.sampler)"
    )
    parser.add_argument("--experiment", help="MLflow experiment (tracking.experiment)")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "search.n_trials": args.n_trials,
        "search.parallelism": args.parallelism,
        "study": args.study_name,
        "search.seed": args.seed,
        "search.timeout": args.timeout,
        "search.sampler": args.sampler,
        "tracking.experiment": args.experiment,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_defaults()
    try:
        patient_prefect_startup()
        return _run(args)
    except KubetuneError as error:
        print(f"kubetune: error: {redact_text(str(error))}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(
            "kubetune: interrupted; run the same command again to resume the study", file=sys.stderr
        )
        return EXIT_INTERRUPTED


def command() -> NoReturn:
    """The ``kubetune`` console script: ``main``, then an exit that skips the interpreter's teardown
    (``python -m kubetune.flows.cli`` exits as usual).

    Python's exit waits for non-daemon threads and runs the exit handlers (Prefect drains its log and
    event workers, the throwaway server stops, temporary folders go, logging flushes); this exit does
    the same. What it skips is the teardown after them: freeing every module a tuning job imported
    (torch, scikit-learn, MLflow, Prefect) one object at a time, memory the operating system takes back
    at once anyway -- 1.5 s after the summary line of a 50-second study on 2 cores."""
    code = main()
    # the two steps the interpreter's own exit takes, in its order (private, as Py_Finalize calls them):
    # tell thread pools to end (their threading._register_atexit hooks) and join the non-daemon threads;
    # joining without the hooks waits forever on a pool's idle threads (the Kubernetes client keeps one)
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _run(args: argparse.Namespace) -> int:
    from kubetune.components.pipeline import data_notices, preflight
    from kubetune.components.spec import load_spec

    if args.command == "report":
        return _report(args)
    spec = load_spec(args.spec, _overrides(args))
    if getattr(args, "dry_run", False):
        import optuna
        import yaml

        from kubetune.components.pipeline import check_cluster_stores, first_trial_job

        # the same refusal as validate and tune: no Job that could not run is printed
        check_cluster_stores(spec)
        if not args.verbose:
            # its "study created in memory" line is no part of the Job
            optuna.logging.set_verbosity(optuna.logging.WARNING)
        print(yaml.safe_dump(first_trial_job(spec), sort_keys=False), end="")
        return EXIT_OK
    if args.command == "retrain":
        from kubetune.components.registry import check_promotion_settings

        check_promotion_settings(args.margin, args.alias)
        from kubetune.components.data import fingerprint, read_data
        from kubetune.components.pipeline import versioned_spec

        frame = read_data(spec.data)  # read once: it names the study and is checked
        # the study this data version resumes or starts
        facts = preflight(versioned_spec(spec, fingerprint(frame)), frame)
    else:
        # Prefect's throwaway server starts while the data is read and checked (flows.prefect_server)
        server = _throwaway_server(args.verbose) if args.command == "tune" else None
        facts = preflight(spec)
        server = server.if_needed() if server is not None else None
    if args.command == "validate":
        features = f"{facts.n_features} feature" + ("" if facts.n_features == 1 else "s")
        print(
            f"{args.spec}: ok ({facts.task}, {facts.n_rows} rows, {features}, study '{spec.study_name}')"
        )
        for notice in data_notices(facts):
            print(f"kubetune: warning: {notice}", file=sys.stderr)
        return EXIT_OK
    progress = not args.no_progress and sys.stderr.isatty()
    if args.command == "retrain":
        return _run_flow(
            "retrain", spec, progress, args.verbose, margin=args.margin, alias=args.alias
        )
    return _run_flow("tune", spec, progress, args.verbose, server=server)


def _throwaway_server(verbose: bool) -> ThrowawayServer | None:
    from kubetune.flows.api import quiet_run_output
    from kubetune.flows.prefect_server import ThrowawayServer

    quiet_run_output(verbose)  # before Prefect is first imported
    return None if os.environ.get("PREFECT_API_URL") else ThrowawayServer().start()


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kubetune.components.execution import check_storage_url
    from kubetune.components.pipeline import report_study
    from kubetune.components.spec import study_name_problem

    if problem := study_name_problem(args.study):
        raise SpecError(f"study: {problem}")
    if args.storage:
        check_storage_url(args.storage)
    output = Path(args.output or f"{args.study}-report.html")
    report = report_study(args.study, args.tracking_uri, args.storage, output)
    print(
        f"{output}: report of study {args.study} ({len(report.plots)} plots), logged on run {report.parent_run_id}"
    )
    return EXIT_OK


def _run_flow(
    name: str,
    spec: Any,
    progress: bool,
    verbose: bool,
    server: ThrowawayServer | None = None,
    **parameters: Any,
) -> int:
    from kubetune.flows.api import EPHEMERAL_SERVER_STARTUP_S, TuningFailed, run_flow, warm_up
    from kubetune.flows.prefect_server import served

    startup_s = float(
        os.environ.get(
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", EPHEMERAL_SERVER_STARTUP_S
        )
    )
    try:
        with served(server, startup_s, meanwhile=lambda: warm_up(name, spec)):
            summary = run_flow(name, spec, progress, verbose, **parameters)
    except TuningFailed as failure:  # the job ran and failed: exit 1, not "bad input"
        print(f"kubetune: error: {failure}", file=sys.stderr)
        return EXIT_FAILED
    _print_summary(summary)
    return EXIT_OK


def _chosen_note(result: RefitSummary) -> str:
    if result.search_best_trial is None or result.search_best_trial == result.best_trial:
        return ""
    return f" by the finalists' repeated CV (the search's best: #{result.search_best_trial})"


def _print_summary(result: RefitSummary) -> None:
    # a pruned trial is neither failed nor a full score: with a pruner the count says how much was stopped early
    pruned = f"{result.pruned_this_run} pruned, " if result.pruned_this_run else ""
    lines = [
        f"study {result.study}: best trial #{result.best_trial}{_chosen_note(result)} "
        f"({result.trials_this_run} trials this run, {pruned}{result.failed_this_run} failed)",
        "  params: " + ", ".join(f"{k}={v}" for k, v in result.best_params.items()),
        "  cross-validation: " + ", ".join(f"{k}={v:.4f}" for k, v in result.cv.items()),
        "  held-out test:    " + ", ".join(f"{k}={v:.4f}" for k, v in result.test.items()),
        f"  model: {result.registered_model} version {result.model_version} "
        f"(refit run {result.refit_run_id}{'; kept: no new trials since it was trained' if result.refit_reused else ''})",
    ]
    lines += [f"  {line}" for line in result.analysis]
    if result.run_url:
        lines.append(f"  mlflow: {result.run_url}")
    promotion = result.promotion
    if promotion:
        verdict = (
            f"version {promotion['challenger_version']} now holds '{promotion['alias']}'"
            if promotion["promote"]
            else f"'{promotion['alias']}' stays on version {promotion['champion_version']}"
        )
        lines.append(f"  promotion: {verdict}: {promotion['reason']}")
    print("\n".join(lines))


if __name__ == "__main__":
    # the interpreter's normal exit here: a profiler run as ``python -m cProfile -m kubetune.flows.cli``
    # writes its output after the module returns, which ``command``'s exit would never reach
    sys.exit(main())
