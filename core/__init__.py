"""goex core: what goex-db and goex-fs share. Imports neither goexdb nor goexfs."""
