"""`python -m seedctl.cli`: the restore stage (restore/dvc.yaml) runs seedctl this way."""

from seedctl.cli.app import main

main()
