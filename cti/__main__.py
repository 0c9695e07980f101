from cti.cli import main

main(prog_name="hotline")
