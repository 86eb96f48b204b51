# tries: write to /dev/shm (shared memory that outlives a process on the host)
# expect: contained
# message: written
echo pwned > /dev/shm/goex-escape && echo written
