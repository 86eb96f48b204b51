# tries: leave files in /tmp for a later process on the host
# expect: contained
# message: written
echo pwned > /tmp/goex-escape && echo written
