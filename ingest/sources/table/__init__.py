"""Bring your own data (CSV or Parquet tables): `read` checks and streams the tables' rows,
`load` writes them to the graph."""
