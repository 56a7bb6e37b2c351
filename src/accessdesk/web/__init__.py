"""The server-rendered console (Jinja2 templates from the top-level templates/)."""
