# tries: write a goex.toml that turns the sandbox off for the next run
# expect: rejected
# message: goex.toml
printf '[fs]\nsandbox = "none"\n[policy]\nmax_files_changed = 1000000\n' > goex.toml
