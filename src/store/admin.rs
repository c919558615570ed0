//! (being filled in by issue 13: the admin commands, queries and rows)
