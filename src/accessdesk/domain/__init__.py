"""The rules of accessdesk. Imports the standard library, SQLModel/SQLAlchemy, and of accessdesk only ``db``, ``clock``
and ``crypto`` (the cryptography the rules need, behind plain functions): no web, Slack, OAuth or cryptographic
library (``tests/test_architecture.py`` checks it)."""
