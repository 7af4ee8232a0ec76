"""Storage layer: the schema, migrations and every query paperboy runs."""
