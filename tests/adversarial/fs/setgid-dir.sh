# tries: set the setgid bit on a new directory
# expect: rejected
# message: setuid, setgid
mkdir g && chmod g+s g
