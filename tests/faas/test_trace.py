"""faas.trace: X-Amzn-Trace-Id parsed, derived from a W3C traceparent, or minted; a call's own Parent."""

from __future__ import annotations

import re
import time

from faas import trace
from faas.trace import Trace

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
HEADER = re.compile(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=[01]$")


def test_mint_is_a_new_root_of_now() -> None:
    t = trace.mint()
    assert HEADER.match(t.header), t.header
    assert abs(int(t.root[2:10], 16) - time.time()) < 5
    assert t.sampled == "0"
    assert trace.mint().root != t.root and trace.mint().parent != t.parent


def test_parse_fields_in_any_order_and_others_kept() -> None:
    t = trace.parse(f"Sampled=1;Lineage=a87bd80c:0;Parent=53995c3f42cd8ad8;Root={ROOT};Self=1-abc")
    assert t == Trace(ROOT, "53995c3f42cd8ad8", "1", ("Lineage=a87bd80c:0", "Self=1-abc"))
    assert t.header == f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:0;Self=1-abc"


def test_parse_root_only_and_spaces() -> None:
    t = trace.parse(f" Root={ROOT.upper()} ")
    assert t is not None and t.root == ROOT and t.sampled == "0" and len(t.parent) == 16
    t2 = trace.parse(f"Root={ROOT}; Sampled=?")
    assert t2 is not None and t2.sampled == "0"


def test_parse_refuses_a_bad_root() -> None:
    for bad in ["", "Root=", "Root=1-5759e988-bd862e3fe1be46a99427279", "Root=2-5759e988-bd862e3fe1be46a994272793",
                "Root=1-5759e98g-bd862e3fe1be46a994272793", "Parent=53995c3f42cd8ad8", "garbage"]:
        assert trace.parse(bad) is None, bad


def test_a_bad_parent_is_replaced() -> None:
    t = trace.parse(f"Root={ROOT};Parent=xyz")
    assert t is not None and re.fullmatch(r"[0-9a-f]{16}", t.parent)


def test_traceparent() -> None:
    t = trace.from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    assert t == Trace("1-4bf92f35-77b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "1")
    t0 = trace.from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
    assert t0 is not None and t0.sampled == "0"
    for bad in ["", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-" + "0" * 16 + "-01", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "00-4bf92f3577b34da6a3ce929d0e0e473z-00f067aa0ba902b7-01"]:
        assert trace.from_traceparent(bad) is None, bad


def test_for_call_keeps_the_root_and_takes_a_new_parent() -> None:
    t = trace.for_call(f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1")
    assert t.root == ROOT and t.sampled == "1" and t.parent != "53995c3f42cd8ad8"
    # X-Amzn-Trace-Id wins over traceparent; traceparent when it is the only one; else a new trace
    both = trace.for_call(f"Root={ROOT}", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    assert both.root == ROOT
    only = trace.for_call(None, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    assert only.root == "1-4bf92f35-77b34da6a3ce929d0e0e4736" and only.parent != "00f067aa0ba902b7"
    assert trace.for_call("nonsense").root != ROOT


def test_from_scope_headers() -> None:
    assert trace.from_scope_headers([(b"x-amzn-trace-id", f"Root={ROOT}".encode())]).root == ROOT
    assert HEADER.match(trace.from_scope_headers([(b"host", b"x")]).header)


def test_child_of_a_child_shares_the_root() -> None:
    t = trace.mint()
    c = trace.child(trace.child(t))
    assert c.root == t.root and c.parent != t.parent
