from core.web.cli import main

main()
