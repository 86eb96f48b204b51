# tries: open TCP and UDP connections to the internet (1.1.1.1:53)
# expect: contained
# message: Network is unreachable
python3 -c "
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    u.sendto(b'x', ('1.1.1.1', 53))
except OSError as e:
    print('udp:', e.strerror)
s = socket.create_connection(('1.1.1.1', 53), timeout=3)
"
