# tries: climb out of the project through /proc/self/cwd/..
# expect: contained
# message: Directory nonexistent
cd /proc/self/cwd/.. && echo pwned > outside/sentinel.txt; touch /proc/self/cwd/../goex-escape
