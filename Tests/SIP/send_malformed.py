#!/usr/bin/env python3
"""Send malformed SIP datagrams over UDP to a server that must survive them.

Usage: Tests/SIP/send_malformed.py HOST PORT [--wait SECONDS]

Sends garbage, truncated and contradictory messages (missing mandatory headers, wrong or absurd Content-Length,
bad request/status lines, bad Via, NUL bytes, huge headers, a reply looping over the server's own address) and
prints how many replies came back within --wait seconds (default 0.5). It does not judge the replies: check that
the server is still alive afterwards (e.g. run a normal call with uac.xml). Exit status 0 when everything was sent.
"""
import os
import socket
import sys


def messages(host, port):
    me = f"{host}:{port}"
    def req(method="OPTIONS", ruri="sip:1000@" + me, headers=None, body=b"", cl=None, extra=b""):
        if headers is None:
            headers = [
                "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-bad-%d" % len(method),
                "From: <sip:bad@127.0.0.1>;tag=bad",
                "To: <sip:1000@%s>" % me,
                "Call-ID: malformed-%s@test" % os.urandom(4).hex(),
                "CSeq: 1 %s" % method,
                "Max-Forwards: 70",
            ]
        lines = [f"{method} {ruri} SIP/2.0"] + headers
        lines.append("Content-Length: %s" % (len(body) if cl is None else cl))
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body + extra

    base = [
        "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-x",
        "From: <sip:bad@127.0.0.1>;tag=bad",
        "To: <sip:1000@%s>" % me,
        "Call-ID: malformed@test",
        "CSeq: 1 OPTIONS",
        "Max-Forwards: 70",
    ]
    def without(name):
        return [h for h in base if not h.startswith(name + ":")]

    yield "random bytes", os.urandom(512)
    yield "text garbage", b"hello world\r\n\r\n"
    yield "empty datagram", b""
    yield "single NUL", b"\x00"
    yield "CRLF keepalive", b"\r\n\r\n"
    yield "request line only, no headers", b"INVITE sip:1000@127.0.0.1 SIP/2.0\r\n\r\n"
    yield "request line only, no CRLFCRLF", b"INVITE sip:1000@127.0.0.1 SIP/2.0"
    yield "method only", b"INVITE\r\n\r\n"
    yield "bad SIP version", b"INVITE sip:1000@127.0.0.1 SIP/9.9\r\n" + "\r\n".join(base).encode() + b"\r\n\r\n"
    yield "bad request URI", req(ruri="not a uri")
    yield "empty request URI", req(ruri="")
    for h in ("Via", "From", "To", "Call-ID", "CSeq", "Max-Forwards"):
        yield f"missing {h}", req(headers=without(h))
    yield "Content-Length larger than body", req(body=b"v=0\r\n", cl=5000)
    yield "Content-Length smaller than body", req(body=b"v=0\r\no=x\r\n", cl=2)
    yield "Content-Length negative", req(body=b"abc", cl=-1)
    yield "Content-Length not a number", req(body=b"abc", cl="abc")
    yield "Content-Length huge", req(body=b"abc", cl="99999999999999999999999")
    yield "body without Content-Length", ("OPTIONS sip:1000@%s SIP/2.0\r\n" % me).encode() + "\r\n".join(base).encode() + b"\r\n\r\nbody"
    yield "Max-Forwards not a number", req(headers=without("Max-Forwards") + ["Max-Forwards: abc"])
    yield "Max-Forwards negative", req(headers=without("Max-Forwards") + ["Max-Forwards: -5"])
    yield "Max-Forwards huge", req(headers=without("Max-Forwards") + ["Max-Forwards: 99999999999999999999"])
    yield "CSeq garbage", req(headers=without("CSeq") + ["CSeq: x y z"])
    yield "CSeq method mismatch", req(headers=without("CSeq") + ["CSeq: 1 BYE"])
    yield "Via without host", req(headers=without("Via") + ["Via: SIP/2.0/UDP"])
    yield "Via garbage", req(headers=without("Via") + ["Via: ;;;::::@@@"])
    yield "Via port out of range", req(headers=without("Via") + ["Via: SIP/2.0/UDP 127.0.0.1:99999;branch=z9hG4bK-p"])
    yield "Via port 0", req(headers=without("Via") + ["Via: SIP/2.0/UDP 127.0.0.1:0;branch=z9hG4bK-p"])
    yield "Via unknown transport", req(headers=without("Via") + ["Via: SIP/2.0/FOO 127.0.0.1:9;branch=z9hG4bK-p"])
    yield "header without colon", req(headers=base + ["ThisIsNotAHeader"])
    yield "header with empty name", req(headers=base + [": value"])
    yield "folded header", req(headers=base + ["Subject: first", " continued"])
    yield "NUL bytes inside", req(headers=base + ["Subject: a\x00b\x00c"])
    yield "invalid UTF-8", req(headers=base + ["Subject: x"]).replace(b"Subject: x", b"Subject: \xff\xfe\xc0")
    yield "very long header (60000 bytes)", req(headers=base + ["X-Long: " + "a" * 60000])
    yield "1000 Via headers", req(headers=["Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-%d" % i for i in range(1000)] + base[1:])
    yield "LF only line ends", req().replace(b"\r\n", b"\n")
    yield "truncated mid-header", req()[:60]
    yield "status line garbage", b"SIP/2.0 abc Whatever\r\n\r\n"
    yield "reply without Via", ("SIP/2.0 200 OK\r\n" + "\r\n".join(without("Via")) + "\r\nContent-Length: 0\r\n\r\n").encode()
    yield "reply with status 0", ("SIP/2.0 0 Zero\r\n" + "\r\n".join(base) + "\r\nContent-Length: 0\r\n\r\n").encode()
    yield "reply with status 9999", ("SIP/2.0 9999 Big\r\n" + "\r\n".join(base) + "\r\nContent-Length: 0\r\n\r\n").encode()
    yield "reply whose Vias all name the server", ("SIP/2.0 200 OK\r\n" + "\r\n".join(
        ["Via: SIP/2.0/UDP %s;branch=z9hG4bK-loop%d" % (me, i) for i in range(5)] + base[1:]) + "\r\nContent-Length: 0\r\n\r\n").encode()
    yield "reply with one foreign Via", ("SIP/2.0 200 OK\r\n" + "\r\n".join(base) + "\r\nContent-Length: 0\r\n\r\n").encode()
    yield "ACK without anything", b"ACK sip:1000@127.0.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n"


def main():
    args = sys.argv[1:]
    wait = 0.5
    if "--wait" in args:
        i = args.index("--wait")
        wait = float(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    host, port = args[0], int(args[1])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    sent = 0
    for name, data in messages(host, port):
        try:
            sock.sendto(data, (host, port))
            sent += 1
        except OSError as e:
            print(f"not sent: {name}: {e}", file=sys.stderr)
    replies = 0
    sock.settimeout(wait)
    try:
        while True:
            sock.recvfrom(65535)
            replies += 1
    except (socket.timeout, ConnectionRefusedError):
        pass
    print(f"sent {sent} malformed datagrams to {host}:{port}, {replies} replies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
