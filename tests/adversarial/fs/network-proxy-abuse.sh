# tries: use goex's proxy to reach cloud metadata, host loopback services, a look-alike name, with malformed and oversized requests
# expect: contained
# message: "host": "169.254.169.254"
python3 - <<'PY'
import socket
def ask(raw):
    with socket.create_connection(("127.0.0.1", 3128), timeout=10) as s:
        s.sendall(raw)
        print(s.recv(200).split(b"\r\n")[0])
ask(b"GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n")
ask(b"CONNECT 127.0.0.1:5432 HTTP/1.1\r\n\r\n")
ask(b"GET http://localhost:8080/ HTTP/1.1\r\nHost: pypi.org\r\n\r\n")
ask(b"CONNECT pypi.org.evil.example:443 HTTP/1.1\r\n\r\n")
ask(b"GARBAGE\r\n\r\n")
ask(b"GET http://x/ HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n")
PY
