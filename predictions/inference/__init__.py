"""Running a request on the model server: the services, the per-process client, the catalogue."""
