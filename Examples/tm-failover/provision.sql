-- Data of the FreeSWITCH failover example (Examples/tm-failover/failover.cfg), run after
-- Plugins/drouting/schema/sqlite.sql when Switchyard creates tm-failover.db on first start.
-- Two FreeSWITCH boxes (here 127.0.0.1:5090 and :5091; put your boxes' addresses) and one rule: every number of
-- routing group 0 goes to fs1 first, then fs2 (sort_alg 'N': the order of the gwlist).
INSERT INTO dr_gateways (gwid, type, address, strip, probe_mode, description)
VALUES ('fs1', 0, 'sip:127.0.0.1:5090', 0, 0, 'FreeSWITCH box 1');
INSERT INTO dr_gateways (gwid, type, address, strip, probe_mode, description)
VALUES ('fs2', 0, 'sip:127.0.0.1:5091', 0, 0, 'FreeSWITCH box 2');
INSERT INTO dr_rules (groupid, prefix, timerec, priority, gwlist, sort_alg, description)
VALUES ('0', '', NULL, 0, 'fs1,fs2', 'N', 'every number: fs1, then fs2');
