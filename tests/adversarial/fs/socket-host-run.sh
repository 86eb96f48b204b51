# tries: connect to a host service's unix socket under /run (docker, dbus, a database)
# expect: contained
# message: No such file or directory
# socket: /run/goex-adv-{{id}}.sock
python3 -c "import socket; s = socket.socket(socket.AF_UNIX); s.connect('/run/goex-adv-{{id}}.sock'); s.send(b'pwned')"
