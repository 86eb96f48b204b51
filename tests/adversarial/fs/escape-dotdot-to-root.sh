# tries: climb to / through a long run of .. and write there
# expect: contained
# message: Read-only file system
cd ../../../../../../../../../.. && touch etc/goex-escape && touch var/tmp/goex-escape
