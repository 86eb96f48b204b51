from goexdb.cli import main

main()
