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


def at_once(*calls):
    """Run each call in a thread of its own (own database connection) at the same moment;
    returns each call's result, or the exception it raised (the outcome under test)."""
    import threading

    from django.db import connections

    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        try:
            outcomes[index] = call()
        except Exception as exc:  # the outcome under test
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes
