# tries: directories nested 1,000 levels deep
# backends: overlay
# expect: rejected
# message: more than max_files_changed
deep=$(python3 -c "print('/'.join(['d'] * 1000))") && mkdir -p "$deep" && echo deep > "$deep/f"
