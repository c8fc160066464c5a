"""Amazon Review Data 2018 (reviews and metadata JSON lines): `read` streams the files' records,
`load` writes them to the graph."""
