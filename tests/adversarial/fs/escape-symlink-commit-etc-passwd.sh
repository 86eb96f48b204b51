# tries: ln -s /etc/passwd x, then commit: the commit must make a symlink, never follow it
# expect: contained
# message: points outside the project
# after: x symlink /etc/passwd
ln -s /etc/passwd x
