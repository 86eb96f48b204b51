# tries: names that look like options and globs (-rf, *, a leading space), committed
# expect: contained
# message: "kind": "added"
# after: -rf file 1\n
echo 1 > ./-rf; echo 2 > './*'; echo 3 > ' lead'
