#!/usr/bin/python3
"""bench-events-clients.py - many WebSocket clients in one process, for scripts/bench-events.

  bench-events-clients.py --port P --token T --n N --ready FILE --out FILE
                          [--duration S] [--expect M] [--since ID] [--path PATH]
                          [--host ADDR]

Opens N connections to ADDR:P (--host, default 127.0.0.1; GET --path, default /api/v1/events, with
Authorization: Bearer T; up to 200 handshakes at a time), writes FILE --ready once
every handshake is done, then reads with epoll until
--duration seconds passed or --expect text messages arrived in total.  Pings are
answered.  For every text message it records the receipt time and the delivery
number i taken from the event's name "wf-<i>": --out gets one line "i time" per
message (epoch seconds): the kernel's receive timestamp of the segment that completed
the frame (SO_TIMESTAMPNS), so the time this script takes to get round to a socket
among thousands is not counted against the server.  Plain sockets and epoll, no library: the client must cost
as little as possible next to the server it measures.
"""

import argparse
import base64
import os
import re
import select
import socket
import struct
import sys
import time

NAME = re.compile(rb'"name":"wf-(\d+)"')
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
CONCURRENT = 200


class Conn:
    """One client: connecting, then upgraded (reads frames)."""
    __slots__ = ("s", "buf", "up")

    def __init__(self, s):
        self.s, self.buf, self.up = s, b"", False


def request(path, token):
    key = base64.b64encode(os.urandom(16)).decode()
    return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
            "Authorization: Bearer %s\r\n\r\n" % (path, key, token)).encode()


def pong(s, payload):
    mask = os.urandom(4)
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    s.send(bytes([0x8A, 0x80 | len(payload)]) + mask + data)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--ready", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--duration", type=float, default=30)
    p.add_argument("--expect", type=int, default=0)
    p.add_argument("--since")
    p.add_argument("--path", default="/api/v1/events")
    p.add_argument("--host", default="127.0.0.1")
    a = p.parse_args()

    path = a.path + ("?since=" + a.since if a.since else "")
    conns = {}
    ep = select.epoll()
    got = []
    total = 0
    started = 0
    upgraded = 0
    pending = 0
    ready_at = None
    deadline = time.time() + 600  # connecting, at most
    end = None

    def start_one():
        s = socket.socket()
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        try:
            s.connect((a.host, a.port))
        except BlockingIOError:
            pass
        conns[s.fileno()] = Conn(s)
        ep.register(s.fileno(), select.EPOLLOUT)

    # Handshakes run CONCURRENT at a time (a sequential connect of 10,000 clients took
    # longer than the bridge's ping interval); pings are answered from the start.
    while True:
        while started < a.n and pending < CONCURRENT:
            start_one()
            started += 1
            pending += 1
        if upgraded == a.n and ready_at is None:
            with open(a.ready, "w") as f:
                f.write("%d\n" % os.getpid())
            ready_at = time.time()
            end = ready_at + a.duration
        if end is not None and (time.time() >= end or (a.expect and total >= a.expect)):
            break
        if end is None and time.time() > deadline:
            sys.exit("only %d of %d clients connected" % (upgraded, a.n))
        for fd, ev in ep.poll(0.2):
            c = conns[fd]
            s = c.s
            if ev & select.EPOLLOUT and not c.up:
                ep.modify(fd, select.EPOLLIN)
                s.send(request(path, a.token))
                continue
            try:
                d, anc, _, _ = s.recvmsg(262144, 64)
            except BlockingIOError:
                continue
            except OSError as e:
                sys.exit("client %d: %s" % (fd, e))
            now = time.time()
            for lvl, typ, data in anc:
                if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS and len(data) >= 16:
                    sec, ns = struct.unpack("qq", data[:16])
                    now = sec + ns / 1e9
            if not d:
                if not c.up:
                    sys.exit("closed during the handshake")
                ep.unregister(fd)
                continue
            b = c.buf + d
            if not c.up:
                if b"\r\n\r\n" not in b:
                    c.buf = b
                    continue
                head, b = b.split(b"\r\n\r\n", 1)
                if b" 101 " not in head.split(b"\r\n")[0]:
                    sys.exit("handshake refused: %r" % head.split(b"\r\n")[0])
                c.up = True
                upgraded += 1
                pending -= 1
            i = 0
            while len(b) - i >= 2:
                op, ln = b[i] & 15, b[i + 1] & 127
                h = 2
                if ln == 126:
                    if len(b) - i < 4:
                        break
                    ln, h = int.from_bytes(b[i + 2:i + 4], "big"), 4
                elif ln == 127:
                    if len(b) - i < 10:
                        break
                    ln, h = int.from_bytes(b[i + 2:i + 10], "big"), 10
                if len(b) - i < h + ln:
                    break
                payload = b[i + h:i + h + ln]
                if op == 1:
                    m = NAME.search(payload)
                    got.append((int(m.group(1)) if m else -1, now))
                    total += 1
                elif op == 9:
                    pong(s, payload)
                i += h + ln
            c.buf = b[i:]
    with open(a.out, "w") as f:
        for i, t in got:
            f.write("%d %.6f\n" % (i, t))
    return 0


if __name__ == "__main__":
    sys.exit(main())
