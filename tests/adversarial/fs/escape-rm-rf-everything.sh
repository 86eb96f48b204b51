# tries: rm -rf of the project by absolute path, the outside directory and /
# expect: contained
# decide: rollback
# message: Read-only file system
rm -rf {{root}}/* {{outside}}; rm -rf --no-preserve-root / 2>&1 | head -3
