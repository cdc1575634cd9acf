"""The staff console's own pages in the Django admin (dashboard, audit log)."""
