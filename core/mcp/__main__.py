from core.mcp.cli import main

main()
