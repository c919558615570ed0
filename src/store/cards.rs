//! (being filled in by issue 13: the cards commands, queries and rows)
