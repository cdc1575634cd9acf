"""Importing the old platform's data (three generations of chat tables, two buckets, the
review history) into SAMIA Chat: `manage.py import_legacy`. See docs/migration.md.

It lives in the kernel because, like urls.py, it gathers the apps: users (kernel),
conversations and files (chat), voice notes (audio), the review history (approvals)."""
