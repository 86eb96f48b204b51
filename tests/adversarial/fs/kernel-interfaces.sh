# tries: write to kernel interfaces (/proc/sys, /sys, cgroups)
# expect: contained
# message: Read-only file system
echo 1 > /proc/sys/kernel/sysrq; echo 1 > /sys/kernel/mm/ksm/run; echo $$ > /sys/fs/cgroup/pids/cgroup.procs
