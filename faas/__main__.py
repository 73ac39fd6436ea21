from faas.cli import entry

entry()
