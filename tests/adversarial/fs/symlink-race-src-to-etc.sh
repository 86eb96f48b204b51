# tries: replace a source directory with a symlink to /etc and commit: /etc must stay as is
# expect: contained
# env: GOEX_POLICY_DISABLE=fs.review-deletes
# message: "kind": "type_changed"
# after: src symlink /etc
rm -rf src && ln -s /etc src
