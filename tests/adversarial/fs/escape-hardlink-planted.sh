# tries: append to a hard link to an outside file that was already in the project; commit
# expect: contained
# message: "kind": "modified"
# plant: hardlink hl sentinel.txt
# after: hl file outside: do not touch\npwned\n
echo pwned >> hl
