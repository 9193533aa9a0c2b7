-- freeswitch_scripting table (version 1) for PostgreSQL, as OpenSIPS 3.x scripts/postgres (table and column names, the version table).
-- Usage: psql -U USER DATABASE < schema/postgres.sql
CREATE TABLE IF NOT EXISTS version (
    table_name VARCHAR(32) NOT NULL,
    table_version INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT version_t_name_idx UNIQUE (table_name)
);

INSERT INTO version (table_name, table_version) values ('freeswitch','1');
CREATE TABLE freeswitch (
    id SERIAL PRIMARY KEY NOT NULL,
    username VARCHAR(64),
    password VARCHAR(64) NOT NULL,
    ip VARCHAR(20) NOT NULL,
    port INTEGER DEFAULT 8021 NOT NULL,
    events_csv VARCHAR(255)
);
ALTER SEQUENCE freeswitch_id_seq MAXVALUE 2147483647 CYCLE;
