//! (being filled in by issue 13: the transactions commands, queries and rows)
