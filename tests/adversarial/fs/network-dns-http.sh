# tries: resolve a name and fetch a URL
# expect: contained
# message: URLError
python3 -c "import urllib.request; urllib.request.urlopen('http://example.com', timeout=3)"
