"""Dead letters: asynchronous calls that failed every try, with their last error; replay one or all.

A replay moves the letters back into the async queue (``EventStore.replay``, as ``faas dlq replay``
does), due now, with a fresh event age and all their retries; the dispatcher is woken so it runs
them at once. One that fails every try again comes back here.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from faas.events import DeadLetter
from gateway.admin.pages import Admin, action, page, redirect
from gateway.admin.session import Session

PAGE_SIZE = 100
PREVIEW_CHARS = 120
PAYLOAD_SHOWN = 4096


@dataclass(frozen=True, slots=True)
class Letter:
    """A dead letter as the page shows it: the payload as text, cut short."""

    letter: DeadLetter
    preview: str  # one line
    payload: str  # at most PAYLOAD_SHOWN bytes' worth
    cut: bool  # the payload is longer than what is shown


def _letter(d: DeadLetter) -> Letter:
    text = d.payload[:PAYLOAD_SHOWN].decode("utf-8", "replace")
    line = " ".join(text.split())
    preview = line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1] + "…"
    return Letter(letter=d, preview=preview, payload=text, cut=len(d.payload) > PAYLOAD_SHOWN)


def _flash(request: Request) -> str | None:
    q = request.query_params
    count = q.get("n", "")
    if q.get("done") == "replayed" and count.isdigit():
        n = int(count)
        if n == 0:
            return "Nothing was replayed: those dead letters are gone already (replayed from elsewhere?)."
        return (f"Replayed {n} dead letter{'s' if n != 1 else ''}: back in the queue and running now. See how it goes "
                "under Invocations; one that fails every try again comes back here.")
    return None


@page
async def letter_list(admin: Admin, request: Request, session: Session) -> Response:
    events = admin.runtime.events
    function = request.query_params.get("function", "").strip()
    counts = await events.dead_letter_counts()
    letters = await events.dead_letters(function or None, limit=PAGE_SIZE)
    total = counts.get(function, 0) if function else sum(counts.values())
    return admin.render(
        request, "dead_letters.html", section="dead-letters", session=session, letters=[_letter(d) for d in letters],
        function=function, counts=counts, total=total, shown=PAYLOAD_SHOWN, flash=_flash(request),
        functions=sorted(set(admin.runtime.registry.names()) | set(counts)),
    )


async def _replay(admin: Admin, ids: list[int] | None, function: str) -> Response:
    replayed = await admin.runtime.events.replay(ids, function=function or None)
    if replayed:
        admin.runtime.asyncq.wake()
    return redirect("/admin/dead-letters", function=function, done="replayed", n=str(len(replayed)))


@action
async def replay_one(admin: Admin, request: Request, session: Session) -> Response:
    return await _replay(admin, [int(request.path_params["letter_id"])], request.state.form.get("function", ""))


@action
async def replay_all(admin: Admin, request: Request, session: Session) -> Response:
    return await _replay(admin, None, request.state.form.get("function", "").strip())


def routes(admin: Admin) -> list[Route]:
    return [
        Route("/admin/dead-letters", letter_list(admin), methods=["GET"]),
        Route("/admin/dead-letters/replay", replay_all(admin), methods=["POST"]),
        Route("/admin/dead-letters/{letter_id:int}/replay", replay_one(admin), methods=["POST"]),
    ]
