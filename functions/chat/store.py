"""Who is in the room: connection ids in a small SQLite file (DynamoDB's part in the AWS sample)."""

import os
import sqlite3


def db() -> sqlite3.Connection:
    path = os.environ.get("CHAT_DB", "chat.sqlite3")
    conn = sqlite3.connect(path, timeout=5, isolation_level=None)
    conn.execute("CREATE TABLE IF NOT EXISTS connections (id TEXT PRIMARY KEY, name TEXT)")
    return conn
