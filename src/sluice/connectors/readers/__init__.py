"""Source readers: PostgreSQL and SQLite tables through ADBC, local files through pyarrow."""
