# tries: a 1 GB (sparse) file, which would be hashed, diffed and committed in full
# expect: contained
# message: File size limit exceeded
truncate -s 1G big.bin 2>&1; ls -la
