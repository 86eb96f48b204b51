# tries: a file name that is not UTF-8, committed
# expect: contained
# message: "kind": "added"
# after: bad{{byte ff}}name file y\n
echo y > "$(printf 'bad\377name')"
