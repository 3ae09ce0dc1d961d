"""Public web pages (no login): the permit verification page."""
