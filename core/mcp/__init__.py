"""goex-mcp: agents act through goex over the Model Context Protocol.

``handles`` (explicit, leased handles, one worker thread each), ``held`` (an action held for
an agent and decided by the server's decider), ``server`` (the MCP server, its common tools,
stdio and HTTP), ``cli`` (the ``goex-mcp`` command). The sides' tools are ``goexdb.mcp`` and
``goexfs.mcp``, found by their ``goex.mcp`` entry points.
"""
