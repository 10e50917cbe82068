"""``python -m bronze_ingest`` and ``spark-submit .../bronze_ingest/__main__.py ARGS``."""

from bronze_ingest.cli import main

if __name__ == "__main__":
    main()
