"""Jinja2 templates for every page, and the environment that renders them (pure)."""
