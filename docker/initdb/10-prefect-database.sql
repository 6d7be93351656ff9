-- Run once by the postgres image when its data volume is new (docker-entrypoint-initdb.d):
-- the Prefect server gets a database of its own; the app uses POSTGRES_DB (veiligheid).
CREATE DATABASE prefect OWNER veiligheid;
