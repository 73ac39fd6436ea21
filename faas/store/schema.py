"""Every table of the store, as named forward-only migrations. Imports nothing of ours.

Each migration is applied once and recorded by name in the ``migrations`` table
(``faas.store._db.migrate``). Features land in any order, so each owns its own names ("metering_1",
"keys_1", "schedules_1", ...); they run in name order within a start. Never edit one that has
shipped, not even its whitespace: add another.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

MIGRATIONS: dict[str, str] = {
    # --- invocations and logs (faas.store.invocations; read by faas.store.stats) ------------------
    "metering_1": """
    CREATE TABLE invocations (
        request_id   TEXT PRIMARY KEY,
        function     TEXT NOT NULL,
        version      INTEGER NOT NULL,
        trigger      TEXT NOT NULL,
        caller       TEXT,
        started_at   REAL NOT NULL,
        duration_ms  REAL NOT NULL,
        billed_ms    INTEGER NOT NULL,
        memory_mb    INTEGER NOT NULL,
        max_memory_mb INTEGER NOT NULL,
        init_ms      REAL,
        cold         INTEGER NOT NULL,
        status       TEXT NOT NULL,
        error_type   TEXT
    );
    CREATE INDEX invocations_function_time ON invocations (function, started_at);
    CREATE INDEX invocations_time ON invocations (started_at);
    CREATE TABLE logs (
        id          INTEGER PRIMARY KEY,
        request_id  TEXT NOT NULL,
        function    TEXT NOT NULL,
        started_at  REAL NOT NULL,
        text        TEXT NOT NULL
    );
    CREATE INDEX logs_function_id ON logs (function, id);
    CREATE INDEX logs_request ON logs (request_id);
    """,
    # Logs keep only what a call printed (START/END/REPORT come from its metering row), and are
    # read in metering order per function: index invocations by function (rowid comes with it).
    "metering_2": """
    DROP INDEX IF EXISTS logs_function_id;
    CREATE INDEX IF NOT EXISTS invocations_function ON invocations (function);
    """,
    # --- API keys (faas.store.keys) and their quota counters (faas.store.usage) ------------------
    "keys_1": """
    CREATE TABLE api_keys (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        plan        TEXT,
        secret_hash TEXT NOT NULL UNIQUE,
        secret_enc  BLOB NOT NULL,
        created_at  REAL NOT NULL,
        revoked_at  REAL
    );
    CREATE TABLE key_usage (
        key_id  TEXT NOT NULL,
        period  TEXT NOT NULL,
        count   INTEGER NOT NULL,
        PRIMARY KEY (key_id, period)
    );
    """,
    # --- usage rollups for bills (faas.store.rollups) ---------------------------------------------
    # Each call's trace (X-Amzn-Trace-Id Root, `faas logs --trace`) and the HTTP status its client
    # got when a door answered for it (a 502 for a malformed response while the call succeeded).
    "metering_3": """
    ALTER TABLE invocations ADD COLUMN trace_id TEXT;
    ALTER TABLE invocations ADD COLUMN http_status INTEGER;
    CREATE INDEX invocations_trace ON invocations (trace_id) WHERE trace_id IS NOT NULL;
    """,
    # Named "usage_*", not "billing_*": migrations run in name order and these need "metering_1"'s
    # invocations table first.
    "usage_1": """
    CREATE TABLE usage_daily (
        day        INTEGER NOT NULL,
        function   TEXT NOT NULL,
        caller     TEXT NOT NULL,
        memory_mb  INTEGER NOT NULL,
        requests   INTEGER NOT NULL,
        billed_ms  INTEGER NOT NULL,
        throttled  INTEGER NOT NULL,
        PRIMARY KEY (day, function, caller, memory_mb)
    ) WITHOUT ROWID;
    INSERT INTO usage_daily (day, function, caller, memory_mb, requests, billed_ms, throttled)
        SELECT CAST(started_at / 86400 AS INTEGER), function, coalesce(caller, ''), memory_mb,
               sum(status != 'throttled'), sum(billed_ms), sum(status = 'throttled')
        FROM invocations GROUP BY 1, 2, 3, 4;
    CREATE TRIGGER invocations_usage_daily AFTER INSERT ON invocations
    BEGIN
        INSERT INTO usage_daily (day, function, caller, memory_mb, requests, billed_ms, throttled)
        VALUES (CAST(NEW.started_at / 86400 AS INTEGER), NEW.function, coalesce(NEW.caller, ''),
                NEW.memory_mb, NEW.status != 'throttled', NEW.billed_ms, NEW.status = 'throttled')
        ON CONFLICT (day, function, caller, memory_mb) DO UPDATE SET
            requests = requests + excluded.requests,
            billed_ms = billed_ms + excluded.billed_ms,
            throttled = throttled + excluded.throttled;
    END;
    """,
    # --- the event sources (faas.store.queue, faas.store.schedules, faas.store.buckets) ---------
    "async_1": """
    CREATE TABLE async_queue (
        id           TEXT PRIMARY KEY,
        function     TEXT NOT NULL,
        trigger      TEXT NOT NULL,
        caller       TEXT,
        payload      BLOB NOT NULL,
        enqueued_at  REAL NOT NULL,
        next_at      REAL NOT NULL,
        state        TEXT NOT NULL,
        attempts     INTEGER NOT NULL DEFAULT 0,
        starts       INTEGER NOT NULL DEFAULT 0,
        request_ids  TEXT NOT NULL DEFAULT '[]',
        error_type   TEXT,
        error_message TEXT,
        run_id       INTEGER
    );
    CREATE INDEX async_queue_due ON async_queue (state, next_at);
    CREATE TABLE dead_letters (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id     TEXT NOT NULL,
        function     TEXT NOT NULL,
        trigger      TEXT NOT NULL,
        caller       TEXT,
        payload      BLOB NOT NULL,
        enqueued_at  REAL NOT NULL,
        failed_at    REAL NOT NULL,
        attempts     INTEGER NOT NULL,
        reason       TEXT NOT NULL,
        error_type   TEXT,
        error_message TEXT,
        request_ids  TEXT NOT NULL
    );
    CREATE INDEX dead_letters_function ON dead_letters (function, id);
    """,
    "schedules_1": """
    CREATE TABLE schedules (
        name         TEXT PRIMARY KEY,
        paused       INTEGER NOT NULL DEFAULT 0,
        expression   TEXT NOT NULL,
        anchor       REAL NOT NULL,
        last_fire_at REAL
    );
    CREATE TABLE schedule_runs (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        schedule     TEXT NOT NULL,
        scheduled_at REAL NOT NULL,
        manual       INTEGER NOT NULL DEFAULT 0,
        status       TEXT NOT NULL,
        event_id     TEXT,
        request_id   TEXT,
        started_at   REAL,
        finished_at  REAL,
        duration_ms  REAL,
        error        TEXT
    );
    CREATE INDEX schedule_runs_schedule ON schedule_runs (schedule, id);
    CREATE INDEX schedule_runs_status ON schedule_runs (status);
    """,
    # An event's trace header, so every try of it (and what it calls) shares one trace.
    "async_2": """
    ALTER TABLE async_queue ADD COLUMN trace_id TEXT;
    """,
    "buckets_1": """
    CREATE TABLE bucket_objects (
        bucket       TEXT NOT NULL,
        key          TEXT NOT NULL,
        size         INTEGER NOT NULL,
        mtime_ns     INTEGER NOT NULL,
        etag         TEXT NOT NULL,
        announced_at REAL NOT NULL,
        PRIMARY KEY (bucket, key)
    );
    CREATE TABLE bucket_sequencers (
        bucket       TEXT PRIMARY KEY,
        last         INTEGER NOT NULL
    );
    """,
}
