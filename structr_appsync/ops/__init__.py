"""Operations tooling around the core: schedules, doctor checks, the runbook, metrics and compose discovery.

Nothing here prints or exits; the command modules in `structr_appsync.commands` do.
"""

from __future__ import annotations
