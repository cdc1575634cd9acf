"""Environment for processes a test starts (a Daphne server, the emergency worker): the
same settings, pointed at the database pytest-django created for this run."""

import os

from django.db import connection


def child_process_env() -> dict[str, str]:
    env = os.environ.copy()
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = str(db["NAME"])
    else:
        user = db.get("USER") or "postgres"
        env["DATABASE_URL"] = f"postgres://{user}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return env
