# tries: write through a symlink planted in the project before staging, pointing at a file outside
# expect: contained
# message: Read-only file system
# plant: symlink escape {{outside}}/sentinel.txt
echo pwned > escape
