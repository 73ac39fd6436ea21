"""Bills: a month's cost per function or per API key, as a page, a CSV download and JSON."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from faas.store import rollups as store_billing
from faas.billing import Bill
from faas.bills import BY, bill_csv, bill_json, current_month, key_names, month_bill, prices_of
from gateway.admin.pages import Admin, api, page, secure
from gateway.admin.session import Session
from gateway.openapi import ApiRoute, Operation, param

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


async def _bill(admin: Admin, request: Request) -> tuple[Bill, str | None]:
    """The bill the query asks for, and a problem with the query (then this month's bill)."""
    month = request.query_params.get("month") or current_month()
    by = request.query_params.get("by") or "function"
    problem = None
    if not MONTH.match(month):
        problem, month = f"{month!r} is not a month like 2026-05: showing this month.", current_month()
    if by not in BY:
        problem, by = f"{by!r} is not function or key: showing per function.", "function"
    runtime = admin.runtime
    return await month_bill(runtime.store, month, prices_of(runtime.config.billing), by=by), problem


@page
async def bill_page(admin: Admin, request: Request, session: Session) -> Response:
    bill, problem = await _bill(admin, request)
    months = await store_billing.months(admin.runtime.store)
    this = current_month()
    if this not in months:
        months.insert(0, this)
    if bill.month not in months:
        months.append(bill.month or this)
    names = await key_names(admin.runtime.store) if bill.by == "key" else {}
    return admin.render(request, "bills.html", section="bills", session=session, bill=bill, months=months,
                        problem=problem, names=names)


@page
async def bill_csv_download(admin: Admin, request: Request, session: Session) -> Response:
    bill, _ = await _bill(admin, request)
    name = f"faas-bill-{bill.month}-by-{bill.by}.csv"
    return secure(Response(bill_csv(bill), media_type="text/csv; charset=utf-8",
                           headers={"content-disposition": f'attachment; filename="{name}"'}))


@api
async def bill_api(admin: Admin, request: Request) -> Response:
    bill, problem = await _bill(admin, request)
    if problem:
        return JSONResponse({"message": problem.split(":")[0]}, 400)
    return JSONResponse(bill_json(bill))


def routes(admin: Admin) -> list[Route]:
    return [
        Route("/admin/bills", bill_page(admin), methods=["GET"]),
        Route("/admin/bills.csv", bill_csv_download(admin), methods=["GET"]),
        ApiRoute("/admin/api/bill", bill_api(admin), {"GET": Operation(
            summary="A month's bill as JSON", security="admin", responses=("200", "default"),
            parameters=(param("month", "query"), param("by", "query", type="string", enum=list(BY))),
        )}),
    ]
