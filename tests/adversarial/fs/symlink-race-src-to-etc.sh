# tries: replace a source directory with a symlink to /etc and commit: /etc must stay as is
# expect: contained
# message: "kind": "type"
# after: src symlink /etc
rm -rf src && ln -s /etc src
