# tries: write goex's own state directory: a fake journal and staged copies
# expect: rejected
# message: .goex
mkdir -p .goex/staged && echo garbage > .goex/journal.sqlite3 && echo x > .goex/staged/x
