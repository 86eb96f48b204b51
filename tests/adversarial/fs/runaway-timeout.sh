# tries: run forever (a loop that ignores signals it can catch)
# expect: refused
# timeout: 2
# message: did not finish within 2s and was killed
trap '' TERM INT HUP; while :; do sleep 1; done
