"""The enterprise console's platform (issue 16): a company's employees, its carrier connections, their rate tables
and quotes, on a database of its own (`parcelguard enterprise run`). It talks to carriers only through adapters."""
