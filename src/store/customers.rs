//! (being filled in by issue 13: the customers commands, queries and rows)
