#!/usr/bin/env python3
"""serve-conn.py — raw-socket clients for serve's connection limits
(tests/cli/serve.bats); curl cannot send slowly or stay silent.

    serve-conn.py drip PORT LIMIT       send a POST one byte every 0.25 s
    serve-conn.py idle PORT LIMIT       connect and send nothing
    serve-conn.py keepalive PORT LIMIT  one whole GET /health (keep-alive),
                                        read the answer, then stay silent

Each prints "closed after S s" once the server closes the connection (EOF,
reset or a failed send; a response such as a 408 read on the way is
printed too) and exits 0, or prints "still open after LIMIT s" and exits 1.
The drip request is long enough (about 110 bytes, 27 s) to outlast any LIMIT
used, so only a whole-request deadline, not an idle timer, can cut it.
"""
import select
import socket
import sys
import time

STEP = 0.25


def closed(sock, t0):
    """Drain what is readable; True once the peer has closed."""
    try:
        data = sock.recv(65536)
    except (ConnectionResetError, BrokenPipeError):
        return True
    if data:
        sys.stdout.write("read %r at %.2f s\n" % (data[:120], time.monotonic() - t0))
        return False
    return True


def main():
    mode, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setblocking(True)
    t0 = time.monotonic()
    body = b'{"prompt": "Once upon a time", "max_tokens": 2}'
    drip = (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
            + body)
    if mode == "keepalive":
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                print("closed before the answer was complete: %r" % answer)
                return 1
            answer += chunk
        t0 = time.monotonic()
    sent = 0
    while True:
        now = time.monotonic() - t0
        if now > limit:
            print("still open after %.1f s" % limit)
            return 1
        ready, _, _ = select.select([sock], [], [], STEP)
        if ready and closed(sock, t0):
            print("closed after %.2f s" % (time.monotonic() - t0))
            return 0
        if mode == "drip" and sent < len(drip):
            try:
                sock.send(drip[sent:sent + 1])
            except (ConnectionResetError, BrokenPipeError):
                print("closed after %.2f s (send failed)" % (time.monotonic() - t0))
                return 0
            sent += 1


if __name__ == "__main__":
    sys.exit(main())
