# tries: kill goex (the parent), the sandbox's pid 1 and every process it can see
# expect: contained
# message: alive
kill -9 $PPID; kill -9 1; kill -TERM -1; echo alive
