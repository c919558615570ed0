//! (being filled in by issue 13: the users commands, queries and rows)
