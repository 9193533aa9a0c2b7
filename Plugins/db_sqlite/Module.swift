// db_sqlite is being written.
