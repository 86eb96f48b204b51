# tries: take away every permission so that goex cannot read or remove the staged copy
# expect: contained
# decide: rollback
# message: "kind": "mode_changed"
chmod -R 000 src; chmod 000 .
