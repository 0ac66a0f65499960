"""The warm-throughput ceiling for the benchmark: a minimal HTTP/1.1 server that answers every GET
with one file, sent with sendfile(2) (no user-space copy). No framework, no parsing beyond reading
the request head; one connection at a time. Usage: sendfile-server.py FILE PORT"""
import os
import socket
import sys

path, port = sys.argv[1], int(sys.argv[2])
size = os.path.getsize(path)
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen(16)
while True:
    conn, _ = server.accept()
    with conn:
        head = b""
        while b"\r\n\r\n" not in head:
            data = conn.recv(65536)
            if not data:
                break
            head += data
        if not head:
            continue
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % size)
        if head.startswith(b"GET "):
            with open(path, "rb") as f:
                conn.sendfile(f)
