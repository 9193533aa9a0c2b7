-- Data of the FreeSWITCH dispatcher example (proxy.cfg), run after Plugins/dispatcher/schema/sqlite.sql when
-- Switchyard creates freeswitch-dispatcher.db on first start.
-- Three boxes in set 1: SIP on 127.0.0.1:5091..5093, Event Socket on 127.0.0.1:8021..8023 (password ClueCon).
-- The weight column holds each box's ESL URL: its weight is computed from its heartbeats.
INSERT INTO dispatcher (setid, destination, weight, priority, attrs, description) VALUES
  (1, 'sip:127.0.0.1:5091', 'fs://:ClueCon@127.0.0.1:8021', 0, 'box=fs1', 'FreeSWITCH 1'),
  (1, 'sip:127.0.0.1:5092', 'fs://:ClueCon@127.0.0.1:8022', 0, 'box=fs2', 'FreeSWITCH 2'),
  (1, 'sip:127.0.0.1:5093', 'fs://:ClueCon@127.0.0.1:8023', 0, 'box=fs3', 'FreeSWITCH 3');
