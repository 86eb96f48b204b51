# tries: file names holding newlines (which break line-based tools), committed
# expect: contained
# message: "kind": "added"
# after: new{{byte 0a}}line.txt file x\n
echo x > "$(printf 'new\nline.txt')"
