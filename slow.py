# A client (straight to the bridge) with a tiny receive window that reads nothing
# until told to, then counts what it got and how the bridge closed it.
import base64, json, os, socket, sys, time
port, tok = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
s.connect(("127.0.0.1", port))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /api/v1/events HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
           "Authorization: Bearer %s\r\n\r\n" % (key, tok)).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(1)
assert b" 101 " in buf.split(b"\r\n")[0], buf
open("slow.ready", "w").close()
while not os.path.exists("slow.go"):
    time.sleep(0.05)
s.settimeout(10)
data = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
except (socket.timeout, ConnectionError):
    pass
texts, close, i = 0, None, 0
while i + 2 <= len(data):
    op, ln = data[i] & 15, data[i + 1] & 127
    i += 2
    if ln == 126:
        ln = int.from_bytes(data[i:i + 2], "big"); i += 2
    elif ln == 127:
        ln = int.from_bytes(data[i:i + 8], "big"); i += 8
    if op == 1:
        texts += 1
    elif op == 8 and ln >= 2:
        close = int.from_bytes(data[i:i + 2], "big")
    i += ln
json.dump({"texts": texts, "close": close}, open("slow.result", "w"))
