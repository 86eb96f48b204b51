# tries: write through every descriptor the command inherited and every one of the sandbox's pid 1 (goex must pass none but stdin, stdout and stderr; 3 is ls's own)
# expect: contained
# message: fds: 0 1 2 3 |
echo "fds: $(ls /proc/self/fd | tr '\n' ' ')|"
for fd in /proc/self/fd/* /proc/1/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && echo pwned > "$fd"; done 2>/dev/null; echo checked
