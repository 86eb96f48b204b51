# tries: reach the outside directory through /proc/self/root
# expect: contained
# message: Read-only file system
echo pwned > /proc/self/root{{outside}}/sentinel.txt; touch /proc/1/root{{outside}}/new
