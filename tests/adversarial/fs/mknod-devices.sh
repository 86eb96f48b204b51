# tries: create device nodes (a copy of /dev/mem, a disk) in the project
# expect: contained
# message: Operation not permitted
mknod mem c 1 1; mknod sda b 8 0
