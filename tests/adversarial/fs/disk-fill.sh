# tries: fill the disk (the project, and so its journal, lives on an 8 MiB tmpfs; the file-size limit is larger)
# expect: refused
# disk: 8
# message: No space left on device
cat /dev/zero > fill
