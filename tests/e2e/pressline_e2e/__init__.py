"""Support for the browser tests: the local stack, Chromium, axe-core and the sent mail."""
