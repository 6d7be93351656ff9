"""The web app (`veiligheid web`): FastAPI with Jinja2 pages and htmx, over the application
layer only. Pages live in `pages/`, one module per page family."""
