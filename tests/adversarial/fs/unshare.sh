# tries: a new user namespace to regain capabilities, then mount
# expect: contained
# message: Operation not permitted
unshare -r -m sh -c 'mount --bind {{outside}} m && touch m/new'
