# tries: hard-link an outside file into the project, then write through the link
# expect: contained
# message: Invalid cross-device link
ln {{outside}}/sentinel.txt hl; echo pwned >> hl
