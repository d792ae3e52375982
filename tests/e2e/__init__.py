"""Real-browser end-to-end tests: Chromium against a Home Assistant process and the sandbox."""
