//! PG-only tests of part B (outbox, concurrency).
