"""Public surface of kubetune.components.core (see __init__.py)."""

from .errors import KubetuneError as KubetuneError, SettingError as SettingError, SpecError as SpecError, StudyConflictError as StudyConflictError
from .interrupts import DeferredInterrupt as DeferredInterrupt
from .records import TrialRequest as TrialRequest, TrialResult as TrialResult
from .redact import error_reason as error_reason, masked_password_problem as masked_password_problem, redact_mapping as redact_mapping, redact_text as redact_text, redact_url as redact_url
from .transient import retry_transient as retry_transient
