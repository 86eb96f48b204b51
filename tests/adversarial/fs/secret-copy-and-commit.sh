# tries: copy the secret files into ordinary files and commit them, for a later read
# expect: contained
# message: Permission denied
# absent: {{secret}}
# after: copied.txt missing
cp .env copied.txt; cp id_rsa key.txt && cat key.txt
