# tries: create a fifo (a reader at commit would block on it)
# expect: rejected
# message: fifo, socket or device
mkfifo pipe
