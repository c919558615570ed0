//! (being filled in by issue 13: the statements commands, queries and rows)
