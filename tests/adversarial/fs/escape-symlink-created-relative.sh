# tries: a relative symlink that climbs out of the project, then append through it
# expect: contained
# message: Read-only file system
ln -s ../outside/sentinel.txt rel && echo pwned >> rel
