# tries: mount a tmpfs over the project and bind-mount / somewhere writable
# expect: contained
# message: permission denied
mkdir m; mount -t tmpfs none m; mount --bind / m
