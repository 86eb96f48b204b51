# tries: a chain of symlinks inside the project whose last hop leads outside
# expect: contained
# message: Read-only file system
ln -s b a && ln -s c b && ln -s {{outside}}/sub c && echo pwned > a/deep.txt
