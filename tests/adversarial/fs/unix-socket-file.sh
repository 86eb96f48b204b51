# tries: leave a bound unix socket in the project
# expect: rejected
# message: fifo, socket or device
python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('agent.sock')"
