-- freeswitch_scripting table (version 1) for MySQL/MariaDB, as OpenSIPS 3.x scripts/mysql (table and column names, the version table).
-- Usage: mariadb -u USER -p DATABASE < schema/mysql.sql
CREATE TABLE IF NOT EXISTS version (
    table_name CHAR(32) NOT NULL,
    table_version INT UNSIGNED DEFAULT 0 NOT NULL,
    CONSTRAINT t_name_idx UNIQUE (table_name)
) ENGINE=InnoDB;

INSERT INTO version (table_name, table_version) values ('freeswitch','1');
CREATE TABLE freeswitch (
    id INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    username CHAR(64),
    password CHAR(64) NOT NULL,
    ip CHAR(20) NOT NULL,
    port INT(11) DEFAULT 8021 NOT NULL,
    events_csv CHAR(255)
) ENGINE=InnoDB;
