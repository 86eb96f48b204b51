REINDEX INDEX "concurrently" /* CONCURRENTLY */;
