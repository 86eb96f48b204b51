# tries: point git's core.hooksPath at a directory the attacker controls
# expect: rejected
# message: matches denied path
git config core.hooksPath /tmp/evil-hooks || printf '[core]\n\thooksPath = /tmp/evil\n' >> .git/config
