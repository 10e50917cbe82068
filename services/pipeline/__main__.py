"""``python -m txn_pipeline`` (and ``spark-submit .../pipeline/__main__.py``) runs ``txn-pipeline``."""

from txn_pipeline.cli import main

if __name__ == "__main__":
    main()
