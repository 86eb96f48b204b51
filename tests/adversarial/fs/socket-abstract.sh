# tries: connect to a host process's abstract unix socket
# expect: contained
# message: Connection refused
# socket: @goex-adv-{{id}}
python3 -c "import socket; s = socket.socket(socket.AF_UNIX); s.connect('\0goex-adv-{{id}}'); s.send(b'pwned')"
