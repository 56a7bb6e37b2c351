"""The rules of accessdesk. Imports SQLModel/SQLAlchemy and the standard library only: no web, Slack or OAuth."""
