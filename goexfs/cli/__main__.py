from goexfs.cli import main

main()
