# tries: swap a directory for a symlink to outside and write "into" it, then commit the swap
# expect: contained
# env: GOEX_POLICY_DISABLE=fs.review-deletes
# message: Read-only file system
# plant: file data/keep.txt keep\n
# after: data symlink {{outside}}
mv data data.old && ln -s {{outside}} data && echo pwned > data/keep.txt
