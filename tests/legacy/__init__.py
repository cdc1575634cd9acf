"""A copy of the old platform's data, for testing the importer: see builder.py."""
