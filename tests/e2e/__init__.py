"""Browser tests: the real service in headless Chromium (see the README's "Browser tests")."""
