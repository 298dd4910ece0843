//! Requests: every rule and statement about an accepted application — its `requests` row,
//! idempotency keys, status queries and paging — shared by the API, the web, bulk uploads and
//! the CLI.
