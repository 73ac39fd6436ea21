"""Event sources that are not HTTP: cron schedules and bucket file watches."""
