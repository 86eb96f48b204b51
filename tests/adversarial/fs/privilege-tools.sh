# tries: sudo, su and setuid helpers to write outside as another user
# expect: contained
# message: done
sudo -n touch {{outside}}/new; su -c 'touch {{outside}}/new' root; echo done
