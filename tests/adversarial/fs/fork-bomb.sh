# tries: a fork bomb; the process cap stops it and the run ends
# expect: contained
# timeout: 20
# requires: process-cap
# message: Cannot fork
b() { b | b; }; b
