# tries: set the setuid bit on an executable (committed by root, it would outlive the sandbox)
# expect: rejected
# message: setuid, setgid
cp run.sh suid && chmod u+s suid
