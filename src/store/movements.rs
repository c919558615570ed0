//! (being filled in by issue 13: the movements commands, queries and rows)
