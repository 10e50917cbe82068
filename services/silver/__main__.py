"""``python -m txn_silver`` (and ``spark-submit .../silver/__main__.py``) runs ``silver-refine``."""

from txn_silver.cli import main

if __name__ == "__main__":
    main()
