"""The enterprise console: many carriers, one place to ship, compare and find (issue 16)."""
