"""Small shared utilities (logging, parsing, environment)."""
