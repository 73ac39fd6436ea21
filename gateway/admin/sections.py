"""The admin navigation: one entry per section, in the order the nav shows them.

A section with a ``module`` is live: that module (``gateway/admin/<name>.py``) has
``routes(admin) -> list[Route]`` serving ``/admin/<slug>...``. A section without one shows a
"not available yet" page, so the navigation already has the shape it will have. To add a section,
write its module and name it here; nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SECTIONS", "Section"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    slug: str  # the page is /admin/<slug>
    title: str
    summary: str  # one sentence, shown under the title and on the overview
    module: str | None  # None: not available on this server yet
    meanwhile: str = ""  # while not available: how to do it without the page

    @property
    def path(self) -> str:
        return f"/admin/{self.slug}"

    @property
    def available(self) -> bool:
        return self.module is not None


SECTIONS: tuple[Section, ...] = (
    Section(slug="schedules", title="Schedules", module="gateway.admin.schedules",
            summary="Functions that run on a cron or rate schedule: next and last run, pause, resume, run now, "
            "and each schedule's run history."),
    Section(slug="functions", title="Functions", module="gateway.admin.functions",
            summary="Each function's settings, warm workers, and how its calls went over the last 24 hours."),
    Section(slug="invocations", title="Invocations", module="gateway.admin.invocations",
            summary="Every call, newest first, with filters; open one to read its log."),
    Section(slug="bills", title="Bills", module="gateway.admin.bills",
            summary="What each function and each API key costs under AWS Lambda pricing, per month, as CSV too."),
    Section(slug="keys", title="API keys", module="gateway.admin.keys",
            summary="Keys for routes with auth = \"api_key\": create one (its secret is shown once), see them, revoke."),
    Section(slug="dead-letters", title="Dead letters", module="gateway.admin.dead_letters",
            summary="Asynchronous calls that failed every retry, with their last error, kept until you replay them."),
)
