# tries: read and overwrite goex's home directory (keys, config, the secrets file)
# expect: contained
# message: No such file or directory
# absent: home: do not touch
cat {{home}}/sentinel.txt; echo pwned > {{home}}/sentinel.txt; ls -a ~
