"""goex-review: the journal's queue in a browser, where people approve or reject what agents
staged (``core.web.cli``), with one page per action and its measured effects."""
