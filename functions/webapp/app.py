"""A Starlette app wrapped with Mangum, served behind a {proxy+} route: ANY /app/{proxy+}."""

from mangum import Mangum
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


async def index(request: Request) -> PlainTextResponse:
    return PlainTextResponse("webapp is up")


async def item(request: Request) -> JSONResponse:
    return JSONResponse(
        {"item": request.path_params["item_id"], "q": request.query_params.get("q"), "cookies": request.cookies}
    )


async def create(request: Request) -> JSONResponse:
    data = await request.json()
    response = JSONResponse({"created": data}, status_code=201)
    response.set_cookie("last", str(data.get("name", "")))
    return response


app = Starlette(
    routes=[
        Route("/app/", index),
        Route("/app/items/{item_id}", item),
        Route("/app/items", create, methods=["POST"]),
    ]
)
handler = Mangum(app, lifespan="off")
