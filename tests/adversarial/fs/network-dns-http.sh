# tries: resolve a name and fetch a URL (the proxy refuses the host, and says so)
# expect: contained
# message: "allowed": false
python3 -c "import urllib.request; urllib.request.urlopen('http://example.com', timeout=3)"
