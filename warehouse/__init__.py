"""The DuckDB warehouse: schema and migrations, idempotent loads, KPI queries, CSV export.

All SQL of the project lives in this package; values are always bound parameters.
"""
