"""The producer service: realistic bank transactions to Kafka, contract-bound and loss-free.

- :mod:`txn_producer.places`: real Canadian and foreign cities, currencies, merchant categories.
- :mod:`txn_producer.population`: customers, devices, merchants and ATMs, built once from a seed
  (Faker for names and merchant ids).
- :mod:`txn_producer.generator`: events drawn per channel rules with one seeded RNG.
- :mod:`txn_producer.encoding`: Confluent-framed Avro values assembled from pre-encoded
  segments (byte-identical to fastavro's encoding).
- :mod:`txn_producer.stream`: a run's batches: events, then fraud scenarios
  (:mod:`txn_producer.fraud`) and dirt (:mod:`txn_producer.dirt`: re-sends, late events,
  conflicts, poison and rule violators, made by :mod:`txn_producer.faults`, the violators derived
  from the contract's rules by :mod:`txn_producer.violations` and checked by
  :mod:`txn_producer.rule_eval`).
- :mod:`txn_producer.config`: typed settings, flags > environment > defaults.
- :mod:`txn_producer.producer`: start-up checks, paced loop, delivery accounting, shutdown.
- :mod:`txn_producer.progress`: the run's summary, its pacing schedule and progress line.
- :mod:`txn_producer.cli`: the ``txn-producer`` command.

Faker, fastavro and confluent-kafka are imported where used, so importing the package is cheap.

Example::

    from txn_producer import ProducerRun, load_config
    run = ProducerRun(load_config({"count": 1_000, "seed": 7}, os.environ))
    run.start()
    print(run.run().to_json())
"""

from .config import ProducerSettings, load_config
from .producer import ProducerRun, Summary

__all__ = ["ProducerRun", "ProducerSettings", "Summary", "load_config"]
