"""Lint settings and suppressions.

A declaration may accept one lint rule's finding, with a reason.

`lint_ignore: [{rule: PX205, reason: "..."}]` on a site, a location or proxygen.yml
silences that rule for findings inside that declaration (or only at the field `at:` names). The reason is required so
the exception is reviewed like any other change; a suppression that matches nothing
is itself reported (PX000), so stale exceptions do not pile up.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from proxygen.model.values import Text


class LintIgnore(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str = Field(pattern=r"^PX[0-9]{3}$", description="The rule code, e.g. PX205 (`proxygen lint --explain`).")
    at: str | None = Field(
        None, pattern=r"^[A-Za-z_][\w.\[\]-]*$",
        description="Only findings at this field (as lint prints it, e.g. log_formats.proxied_requests) "
                    "and below; default: the whole block.")
    reason: Text = Field(min_length=10, description="Why this exception is safe; read by reviewers.")


class LintSettings(BaseModel):
    """`lint:` in proxygen.yml: thresholds of the lint rules that need one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dry_run_max_age_days: int = Field(
        30, ge=1, le=3650, description="A rate limit left in dry-run longer than this is reported (PX107).")
