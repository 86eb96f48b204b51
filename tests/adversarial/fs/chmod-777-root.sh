# tries: chmod 777 the project root and everything in it
# expect: rejected
# message: world-write
chmod 777 . && chmod -R 777 src
