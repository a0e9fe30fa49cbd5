"""The read side: any snapshot as Arrow tables or SQL, with no checkout and no database."""
