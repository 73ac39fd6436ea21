"""The table of HTTP routes from ``[[routes]]``, compiled for matching on every request.

A REST route (``api = "rest"``) is served twice: at its path, as ``sam local start-api`` serves it,
and under its stage (``/Prod/items/42``), as API Gateway's invoke URL does. Both match the same
resource; the ``Route`` matched under the stage has ``stage`` set, so the event's ``path`` can leave
the stage out while ``requestContext.path`` keeps it, as API Gateway's do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from faas.config import ROUTE_PARAM, RouteConfig


@dataclass(frozen=True, slots=True)
class Route:
    config: RouteConfig
    route_key: str
    pattern: re.Pattern[str] | None  # None for a path without parameters
    specificity: tuple[int, int, int]
    stage: str | None = None  # "/Prod" when this is a REST route matched under its stage


def _compile(route: RouteConfig, stage: str | None = None) -> Route:
    path = route.path if stage is None else stage + route.path.rstrip("/")
    path = path or "/"
    if "{" not in path:
        return Route(route, route.route_key, None, (0, 0, 0), stage)
    regex = ""
    pos = 0
    greedy = 0
    params = 0
    for m in ROUTE_PARAM.finditer(path):
        regex += re.escape(path[pos : m.start()])
        if m.group(2):
            # greedy; may be empty so that "/app/{proxy+}" also serves "/app/"
            regex += f"(?P<{m.group(1)}>.*)"
            greedy = 1
        else:
            regex += f"(?P<{m.group(1)}>[^/]+)"
            params += 1
        pos = m.end()
    regex += re.escape(path[pos:])
    # More literal text wins, then fewer greedy parameters, as in API Gateway's "most specific" rule.
    literal = len(ROUTE_PARAM.sub("", path))
    return Route(route, route.route_key, re.compile(f"^{regex}$"), (greedy, -literal, params), stage)


class RouteTable:
    """Exact paths are one dict look-up; parameterised ones are tried most specific first."""

    def __init__(self, routes: tuple[RouteConfig, ...], rest_stage: str = "Prod") -> None:
        self._exact: dict[tuple[str, str], Route] = {}
        patterns: list[Route] = []
        compiled = [_compile(config) for config in routes]
        # The staged copies come second: a route configured at /Prod/... itself keeps its own path.
        compiled += [_compile(config, "/" + rest_stage) for config in routes if config.api == "rest"]
        for route in compiled:
            config = route.config
            if route.pattern is None:
                path = config.path if route.stage is None else (route.stage + config.path).rstrip("/") or "/"
                self._exact.setdefault((config.method, path), route)
            else:
                patterns.append(route)
        patterns.sort(key=lambda r: r.specificity)
        self._patterns = patterns

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        exact = self._exact.get((method, path)) or self._exact.get(("ANY", path))
        if exact is not None:
            return exact, {}
        for route in self._patterns:
            if route.config.method != method and route.config.method != "ANY":
                continue
            assert route.pattern is not None
            m = route.pattern.match(path)
            if m is not None:
                return route, m.groupdict()
        return None
