-- freeswitch_scripting table for SQLite, as OpenSIPS's db/schema/freeswitch.xml (table version 1).
-- Usage: sqlite3 /path/fs.db < schema/sqlite.sql
CREATE TABLE IF NOT EXISTS version (
    table_name CHAR(32) NOT NULL,
    table_version INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT version_t_name_idx UNIQUE (table_name)
);

INSERT INTO version (table_name, table_version) values ('freeswitch','1');
CREATE TABLE freeswitch (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    username CHAR(64),
    password CHAR(64) NOT NULL,
    ip CHAR(20) NOT NULL,
    port INTEGER DEFAULT 8021 NOT NULL,
    events_csv CHAR(255)
);
