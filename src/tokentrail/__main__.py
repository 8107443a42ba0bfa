from tokentrail.launch import main

main()
