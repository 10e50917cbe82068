"""``python -m txn_gold`` (and ``spark-submit .../gold/__main__.py``) runs ``gold-signals``."""

from txn_gold.cli import main

if __name__ == "__main__":
    main()
