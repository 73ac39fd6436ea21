"""gateway/routes.py on its own: which ``[[routes]]`` entry a method and path reach, with what path
parameters. The routes come from a real config.toml, as the server builds its table."""

from __future__ import annotations

from pathlib import Path

import pytest

from faas.config import load_config
from gateway.routes import RouteTable

FUNCTIONS = "".join(f'[functions.{n}]\nhandler = "{n}.handler"\n' for n in ("a", "b", "c", "d", "e", "f", "g"))


def table(tmp_path: Path, *routes: tuple[str, str, str]) -> RouteTable:
    """A table of (method, path, function) routes, in config order."""
    text = FUNCTIONS + "".join(
        f'[[routes]]\nmethod = "{method}"\npath = "{path}"\nfunction = "{function}"\n' for method, path, function in routes
    )
    (tmp_path / "config.toml").write_text(text)
    return RouteTable(load_config(tmp_path / "config.toml").routes)


def hit(routes: RouteTable, method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """The function a request reaches and its path parameters, or None for no route."""
    found = routes.match(method, path)
    return None if found is None else (found[0].config.function, found[1])


def test_exact_paths(tmp_path: Path) -> None:
    routes = table(tmp_path, ("GET", "/", "a"), ("GET", "/hello", "b"), ("POST", "/hello", "c"))
    assert hit(routes, "GET", "/") == ("a", {})
    assert hit(routes, "GET", "/hello") == ("b", {})
    assert hit(routes, "POST", "/hello") == ("c", {})
    assert hit(routes, "PUT", "/hello") is None
    # paths match exactly: no trailing-slash, prefix or case folding
    assert hit(routes, "GET", "/hello/") is None
    assert hit(routes, "GET", "/hell") is None
    assert hit(routes, "GET", "/Hello") is None
    assert hit(routes, "GET", "/hello/x") is None


def test_the_route_knows_its_key_and_config(tmp_path: Path) -> None:
    routes = table(tmp_path, ("GET", "/items/{id}", "a"))
    found = routes.match("GET", "/items/7")
    assert found is not None
    route, params = found
    assert route.route_key == "GET /items/{id}"
    assert (route.config.method, route.config.path, route.config.function) == ("GET", "/items/{id}", "a")
    assert params == {"id": "7"}


def test_any_matches_every_method(tmp_path: Path) -> None:
    routes = table(tmp_path, ("ANY", "/any", "a"), ("ANY", "/any/{id}", "b"))
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
        assert hit(routes, method, "/any") == ("a", {})
        assert hit(routes, method, "/any/1") == ("b", {"id": "1"})


def test_a_method_route_beats_any_on_the_same_exact_path(tmp_path: Path) -> None:
    routes = table(tmp_path, ("ANY", "/x", "a"), ("GET", "/x", "b"))
    assert hit(routes, "GET", "/x") == ("b", {})
    assert hit(routes, "POST", "/x") == ("a", {})


def test_a_parameter_is_one_whole_segment(tmp_path: Path) -> None:
    routes = table(tmp_path, ("GET", "/users/{id}", "a"), ("GET", "/users/{id}/posts/{post}", "b"))
    assert hit(routes, "GET", "/users/42") == ("a", {"id": "42"})
    assert hit(routes, "GET", "/users/42/posts/7") == ("b", {"id": "42", "post": "7"})
    assert hit(routes, "GET", "/users/") is None  # a parameter is never empty
    assert hit(routes, "GET", "/users/42/") is None
    assert hit(routes, "GET", "/users/42/posts") is None
    assert hit(routes, "GET", "/users/a/b") is None
    # the value is the path as it arrived (the gateway passes the decoded path), dots and all
    assert hit(routes, "GET", "/users/a.b c%20") == ("a", {"id": "a.b c%20"})


def test_proxy_takes_the_rest_of_the_path(tmp_path: Path) -> None:
    routes = table(tmp_path, ("GET", "/app/{proxy+}", "a"))
    assert hit(routes, "GET", "/app/x") == ("a", {"proxy": "x"})
    assert hit(routes, "GET", "/app/x/y/z.css") == ("a", {"proxy": "x/y/z.css"})
    assert hit(routes, "GET", "/app/x/") == ("a", {"proxy": "x/"})
    # it may be empty, so "/app/" is served as well; "/app" is not
    assert hit(routes, "GET", "/app/") == ("a", {"proxy": ""})
    assert hit(routes, "GET", "/app") is None
    assert hit(routes, "GET", "/application") is None


def test_root_proxy_catches_everything_else(tmp_path: Path) -> None:
    routes = table(tmp_path, ("ANY", "/{proxy+}", "a"), ("GET", "/health", "b"))
    assert hit(routes, "GET", "/health") == ("b", {})
    assert hit(routes, "POST", "/health") == ("a", {"proxy": "health"})
    assert hit(routes, "GET", "/") == ("a", {"proxy": ""})
    assert hit(routes, "DELETE", "/a/b") == ("a", {"proxy": "a/b"})


def test_an_exact_path_beats_a_parameter(tmp_path: Path) -> None:
    routes = table(tmp_path, ("GET", "/users/{id}", "a"), ("GET", "/users/me", "b"))
    assert hit(routes, "GET", "/users/me") == ("b", {})
    assert hit(routes, "GET", "/users/you") == ("a", {"id": "you"})


def test_more_literal_text_wins(tmp_path: Path) -> None:
    routes = table(
        tmp_path,
        ("GET", "/{a}/{b}", "a"),
        ("GET", "/users/{b}", "b"),
        ("GET", "/{a}/settings", "c"),
    )
    assert hit(routes, "GET", "/users/settings") == ("c", {"a": "users"})  # "/settings" is longer than "/users"
    assert hit(routes, "GET", "/users/7") == ("b", {"b": "7"})
    assert hit(routes, "GET", "/teams/settings") == ("c", {"a": "teams"})
    assert hit(routes, "GET", "/teams/7") == ("a", {"a": "teams", "b": "7"})


def test_a_greedy_route_comes_after_every_non_greedy_one(tmp_path: Path) -> None:
    routes = table(
        tmp_path,
        ("GET", "/files/archive/old/{proxy+}", "a"),
        ("GET", "/{x}/{y}/{z}/{w}", "b"),
        ("GET", "/files/{name}", "c"),
    )
    # "/files/archive/old/" has more literal text than "////", yet the greedy route loses
    assert hit(routes, "GET", "/files/archive/old/2020") == ("b", {"x": "files", "y": "archive", "z": "old", "w": "2020"})
    assert hit(routes, "GET", "/files/archive/old/2020/01") == ("a", {"proxy": "2020/01"})
    assert hit(routes, "GET", "/files/report") == ("c", {"name": "report"})


def test_among_greedy_routes_the_longer_prefix_wins(tmp_path: Path) -> None:
    routes = table(tmp_path, ("ANY", "/{proxy+}", "a"), ("ANY", "/static/{proxy+}", "b"), ("ANY", "/static/img/{proxy+}", "c"))
    assert hit(routes, "GET", "/static/img/logo.png") == ("c", {"proxy": "logo.png"})
    assert hit(routes, "GET", "/static/app.js") == ("b", {"proxy": "app.js"})
    assert hit(routes, "GET", "/index.html") == ("a", {"proxy": "index.html"})


def test_parameter_routes_filter_by_method(tmp_path: Path) -> None:
    routes = table(tmp_path, ("GET", "/items/{id}", "a"), ("DELETE", "/items/{id}", "b"), ("ANY", "/{proxy+}", "c"))
    assert hit(routes, "GET", "/items/1") == ("a", {"id": "1"})
    assert hit(routes, "DELETE", "/items/1") == ("b", {"id": "1"})
    assert hit(routes, "PUT", "/items/1") == ("c", {"proxy": "items/1"})


def test_equally_specific_routes_keep_config_order(tmp_path: Path) -> None:
    routes = table(tmp_path, ("ANY", "/{x}/y", "a"), ("GET", "/x/{y}", "b"))
    assert hit(routes, "GET", "/x/y") == ("a", {"x": "x"})
    routes = table(tmp_path, ("GET", "/x/{y}", "b"), ("ANY", "/{x}/y", "a"))
    assert hit(routes, "GET", "/x/y") == ("b", {"y": "y"})


def test_special_characters_in_literal_segments_are_literal(tmp_path: Path) -> None:
    routes = table(tmp_path, ("GET", "/v1.0/{id}", "a"), ("GET", "/a+b/{id}", "b"))
    assert hit(routes, "GET", "/v1.0/7") == ("a", {"id": "7"})
    assert hit(routes, "GET", "/v1x0/7") is None
    assert hit(routes, "GET", "/a+b/7") == ("b", {"id": "7"})
    assert hit(routes, "GET", "/aab/7") is None


def test_an_empty_table_matches_nothing(tmp_path: Path) -> None:
    routes = table(tmp_path)
    assert hit(routes, "GET", "/") is None


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_methods_are_compared_as_given(tmp_path: Path, method: str) -> None:
    """Config upper-cases methods; requests arrive upper-case from the server, and nothing else folds."""
    routes = table(tmp_path, (method.lower(), "/m", "a"), (method.lower(), "/m/{p}", "b"))
    assert hit(routes, method, "/m") == ("a", {})
    assert hit(routes, method, "/m/1") == ("b", {"p": "1"})
    assert hit(routes, method.lower(), "/m") is None
    assert hit(routes, method.lower(), "/m/1") is None


def test_rest_routes_answer_with_and_without_their_stage(tmp_path: Path) -> None:
    text = FUNCTIONS + '[server]\nrest_stage = "Prod"\n' + "".join(
        f'[[routes]]\nmethod = "{m}"\npath = "{p}"\nfunction = "{f}"\napi = "{api}"\n'
        for m, p, f, api in (("GET", "/items/{id}", "a", "rest"), ("ANY", "/", "b", "rest"),
                             ("GET", "/files/{proxy+}", "c", "rest"), ("GET", "/plain", "d", "http"))
    )
    (tmp_path / "config.toml").write_text(text)
    config = load_config(tmp_path / "config.toml")
    routes = RouteTable(config.routes, config.server.rest_stage)
    for path, stage in (("/items/42", None), ("/Prod/items/42", "/Prod")):
        found = routes.match("GET", path)
        assert found is not None and found[0].config.function == "a" and found[1] == {"id": "42"}
        assert found[0].stage == stage
    assert hit(routes, "GET", "/Prod/files/a/b.txt") == ("c", {"proxy": "a/b.txt"})
    assert hit(routes, "POST", "/Prod") == ("b", {})
    assert hit(routes, "POST", "/") == ("b", {})
    assert hit(routes, "GET", "/plain") == ("d", {})
    assert hit(routes, "GET", "/Prod/plain") is None  # an HTTP API route has no stage prefix
    assert hit(routes, "GET", "/Dev/items/42") is None
