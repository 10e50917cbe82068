"""``python -m txn_lake`` and ``spark-submit .../txn_lake/__main__.py ARGS`` (= ``txn-lake``)."""

from txn_lake.cli import main

if __name__ == "__main__":
    main()
