"""Storage: the only package that imports SQLModel/SQLAlchemy directly for schema and engine."""
