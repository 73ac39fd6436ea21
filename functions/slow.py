"""A demo of limits and errors: ?sleep=SECONDS runs past the timeout, ?fail=1 raises, ?exit=N exits."""

import os
import time


def handler(event, context):
    query = event.get("queryStringParameters") or {}
    if "fail" in query:
        raise ValueError("asked to fail")
    if "exit" in query:
        os._exit(int(query["exit"]))
    seconds = float(query.get("sleep", "0.1"))
    print(f"sleeping {seconds}s with {context.get_remaining_time_in_millis()} ms left")
    time.sleep(seconds)
    return {"slept": seconds}
