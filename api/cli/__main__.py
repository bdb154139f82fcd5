"""`python -m api.cli …`: the `gridgov` command (the tests and the workflow ticker start it so)."""
from api.cli import main

main()
