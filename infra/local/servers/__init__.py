"""The local stand-in servers that up.sh starts, each run as a script (`python servers/X.py`).
Each puts infra/local on sys.path first thing, so that it imports the shared library as `lib`.
A package too, so that the tests import them (`from servers import console_server`)."""
