# The legacy world (tests/legacy/builder.py) and the chat tests' API helpers.
from tests.legacy.builder import legacy_world  # noqa: F401
