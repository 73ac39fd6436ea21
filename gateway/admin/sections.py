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
    Section(slug="schedules", title="Schedules", module=None,
            summary="Functions that run on a cron or rate schedule: next and last run, pause, resume, run now.",
            meanwhile="faas schedules list|runs|pause|resume|run NAME does this from the command line, and "
            "/admin/api/schedules as JSON."),
    Section(slug="functions", title="Functions", module="gateway.admin.functions",
            summary="Each function's settings, warm workers, and how its calls went over the last 24 hours."),
    Section(slug="invocations", title="Invocations", module="gateway.admin.invocations",
            summary="Every call, newest first, with filters; open one to read its log."),
    Section(slug="bills", title="Bills", module="gateway.admin.bills",
            summary="What each function and each API key costs under AWS Lambda pricing, per month, as CSV too."),
    Section(slug="keys", title="API keys", module=None,
            summary="Keys for routes with auth = \"api_key\": create, show the secret once, revoke.",
            meanwhile="faas keys create NAME [--plan PLAN], faas keys list and faas keys revoke ID do this "
            "from the command line; bills per key are under Bills."),
    Section(slug="dead-letters", title="Dead letters", module=None,
            summary="Asynchronous calls that failed every retry, kept for inspection and replay.",
            meanwhile="faas dlq list [--function F] [--json] and faas dlq replay ID|--all do this from the "
            "command line."),
)
