"""Database layer: SQLModel tables, column types and the engine/session factory."""
