"""Developer tooling that is not shipped with the integration."""
