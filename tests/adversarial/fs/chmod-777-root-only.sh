# tries: chmod 777 only the project root itself, then commit: the root is not a change goex applies, so the real root keeps its mode
# expect: contained
# message: "changes": []
chmod 777 . && chmod o+t .
