# tries: leave a detached process that writes into the project after goex has measured it
# expect: contained
# message: detached
# after: late missing
setsid nohup sh -c 'sleep 3; touch {{root}}/late' >/dev/null 2>&1 & echo detached
