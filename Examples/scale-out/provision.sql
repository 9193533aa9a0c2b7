-- Data of the DTMF-transfer scenario (Examples/scale-out/modules.conf), run after
-- Plugins/drouting/schema/mysql.sql (which creates the tables and their `version` rows).
--
-- Load it once into the shared MariaDB, after the schema:
--   mariadb -u switchyard -p switchyard < Plugins/drouting/schema/mysql.sql
--   mariadb -u switchyard -p switchyard < Examples/scale-out/provision.sql

-- The FreeSWITCH box that hosts the support number and its extensions 1001 and 1002 (the transfer targets are
-- extensions of that box: the transfer itself is an ESL command, this gateway only makes the rule a complete one).
INSERT INTO dr_gateways (gwid, type, address, strip, description)
VALUES ('freeswitch', 0, 'sip:127.0.0.1:5060', 0, 'FreeSWITCH hosting the support line (1000) and agents 1001, 1002');

-- Support number 1000: a prefix rule of routing group 0. The script checks it with do_routing("0", "C"), i.e. only
-- "is this a support call?"; add more prefixes to route more numbers through the DTMF menu.
INSERT INTO dr_rules (groupid, prefix, timerec, priority, gwlist, description)
VALUES ('0', '1000', NULL, 0, 'freeswitch', 'support line: DTMF 1 -> 1001, 2 -> 1002, other -> 1001');
