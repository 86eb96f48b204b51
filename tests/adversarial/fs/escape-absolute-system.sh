# tries: write to /etc, /usr and /var/tmp by absolute path
# expect: contained
# message: Read-only file system
echo pwned >> /etc/hostname; touch /etc/goex-escape; touch /usr/bin/goex-escape; touch /var/tmp/goex-escape
