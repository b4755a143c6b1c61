from proxygen.cli import main

main()
