# tries: reach services on the host's loopback (databases, dev servers)
# expect: contained
# message: Connection refused
python3 -c "import socket; socket.create_connection(('127.0.0.1', 5432), timeout=3)"
