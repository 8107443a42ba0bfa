from tokentrail.cli import main

main()
