# tries: write next to the project through ..
# expect: contained
# message: Read-only file system
echo pwned > ../outside/sentinel.txt; touch ../goex-escape; mkdir ../outside/new
