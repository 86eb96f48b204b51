# tries: write through every inherited descriptor of the command and of the sandbox's pid 1
# expect: contained
# message: checked
for fd in /proc/self/fd/* /proc/1/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && echo pwned > "$fd"; done 2>/dev/null; echo checked
