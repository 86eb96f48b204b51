# tries: a tree of 100,000 files (on a 64 MiB tmpfs project, so creating them is cheap)
# backends: overlay
# expect: rejected
# disk: 64
# message: 100000 paths changed, more than max_files_changed
seq 100000 | xargs touch
