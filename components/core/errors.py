"""The errors a user can act on. Each carries a one-line message that names what is wrong."""


class KubetuneError(Exception):
    """Base class: the CLI prints ``str(error)`` on one line instead of a traceback."""

    exit_code = 1


class SpecError(KubetuneError):
    """The spec or the data it points at is unusable; raised before any trial starts."""

    exit_code = 2


class SettingError(KubetuneError):
    """An environment variable the run reads has an unusable value; raised before anything is recorded."""

    exit_code = 2


class StudyConflictError(KubetuneError):
    """An existing study with this name was built from an incompatible spec."""

    exit_code = 2
