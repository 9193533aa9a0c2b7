-- Data of the SIP proxy example (Examples/sip-proxy/proxy.cfg), run after Plugins/drouting/schema/sqlite.sql
-- when Switchyard creates sip-proxy.db on first start.
-- One gateway (a sipp UAS on 127.0.0.1:5090, probed with OPTIONS while it is down) and one rule: numbers starting
-- with 1 of routing group 0 go to it.
INSERT INTO dr_gateways (gwid, type, address, strip, probe_mode, description)
VALUES ('uas', 0, 'sip:127.0.0.1:5090', 0, 1, 'sipp UAS (Tests/SIP/uas.xml)');
INSERT INTO dr_rules (groupid, prefix, timerec, priority, gwlist, description)
VALUES ('0', '1', NULL, 0, 'uas', 'numbers starting with 1');
