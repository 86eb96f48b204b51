# tries: absolute paths to the outside directory: overwrite, delete, create
# expect: contained
# message: Read-only file system
echo pwned > {{outside}}/sentinel.txt; rm -rf {{outside}}/sub; touch {{outside}}/new
