# tries: flood stdout with 50 MB
# expect: contained
# message: more bytes of output not kept
yes pwned | head -c 50000000
