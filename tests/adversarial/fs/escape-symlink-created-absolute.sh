# tries: make a symlink to an outside file, write through it, and commit the symlink
# expect: contained
# message: Read-only file system
# after: ln symlink {{outside}}/sentinel.txt
ln -s {{outside}}/sentinel.txt ln && echo pwned > ln
