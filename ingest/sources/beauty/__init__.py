"""Amazon 2014 Beauty 5-core, the PGPR/CAFE benchmark: `read` streams the two folders' records,
`load` writes them to the graph."""
