# tries: create and delete files through a planted symlink to the outside directory
# expect: contained
# message: Read-only file system
# plant: symlink out {{outside}}
touch out/new.txt; rm -f out/sentinel.txt; rm -rf out/sub
