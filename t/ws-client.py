#!/usr/bin/python3
"""ws-client.py - a small WebSocket client for farm's event tests (python3-websocket).

  ws-client.py --url ws://127.0.0.1:PORT/api/v1/events[?since=N&access_token=T]
               [--token T] --out FILE [--count N] [--timeout S] [--ready FILE]
               [--status FILE] [--delay S]

Connects (through nginx in the tests), writes each received text message as one
compact JSON line to --out (flushed at once), answers pings, and exits after
--count messages (0: keep reading until the timeout) or --timeout seconds.
--delay sleeps S seconds after each text message: a client that reads, slowly.
--token sends `Authorization: Bearer T`.  --ready is created once the handshake
succeeded.  --status gets one JSON object at exit:
  {"messages":n,"pings":p,"handshake":101|status,"close":code|null,"reason":"..."}
Exit status: 0 done (count reached, or the timeout with --count 0), 1 timeout before
count, 2 handshake refused, 3 closed by the server, 4 other error.
"""

import argparse
import json
import os
import signal
import socket
import sys
import time

import websocket


def on_term(signum, frame):
    raise SystemExit(0)  # runs the finally clauses: the status file gets written


def main():
    signal.signal(signal.SIGTERM, on_term)
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--token")
    p.add_argument("--out", required=True)
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--ready")
    p.add_argument("--status")
    p.add_argument("--delay", type=float, default=0.0)
    a = p.parse_args()

    st = {"messages": 0, "pings": 0, "handshake": None, "close": None, "reason": ""}
    rc = 4
    headers = ["Authorization: Bearer " + a.token] if a.token else []
    deadline = time.monotonic() + a.timeout
    out = open(a.out, "a", buffering=1)
    ws = None
    try:
        try:
            ws = websocket.create_connection(a.url, header=headers, timeout=a.timeout,
                                             enable_multithread=False)
        except websocket.WebSocketBadStatusException as e:
            st["handshake"] = e.status_code
            rc = 2
            return rc
        st["handshake"] = 101
        if a.ready:
            with open(a.ready, "w") as f:
                f.write("%d\n" % os.getpid())
        rc = 1
        while a.count == 0 or st["messages"] < a.count:
            left = deadline - time.monotonic()
            if left <= 0:
                rc = 0 if a.count == 0 else 1
                break
            ws.settimeout(left)
            try:
                op, frame = ws.recv_data_frame(control_frame=True)
            except (websocket.WebSocketTimeoutException, socket.timeout):
                continue
            except websocket.WebSocketConnectionClosedException:
                rc = 3
                break
            if op == websocket.ABNF.OPCODE_PING:
                st["pings"] += 1  # the library has answered with a pong
            elif op == websocket.ABNF.OPCODE_CLOSE:
                data = frame.data or b""
                if len(data) >= 2:
                    st["close"] = data[0] << 8 | data[1]
                    st["reason"] = data[2:].decode("utf-8", "replace")
                rc = 3
                break
            elif op == websocket.ABNF.OPCODE_TEXT:
                msg = json.loads(frame.data.decode("utf-8"))
                out.write(json.dumps(msg, separators=(",", ":"), sort_keys=True) + "\n")
                st["messages"] += 1
                if a.delay:
                    time.sleep(a.delay)
        else:
            rc = 0
        return rc
    except Exception as e:  # noqa: BLE001 - reported, never hidden
        st["reason"] = "%s: %s" % (type(e).__name__, e)
        sys.stderr.write("ws-client: %s\n" % st["reason"])
        return 4
    finally:
        out.close()
        if ws is not None:
            try:
                ws.close(timeout=1)
            except Exception:  # noqa: BLE001
                pass
        if a.status:
            with open(a.status + ".tmp", "w") as f:
                json.dump(st, f)
            os.rename(a.status + ".tmp", a.status)


if __name__ == "__main__":
    sys.exit(main())
