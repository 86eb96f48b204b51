# tries: rename the project directory away
# expect: contained
# message: Read-only file system
mv {{root}} {{root}}.moved; mv . ../moved; echo moved
