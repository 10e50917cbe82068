"""Offline Avro schema compatibility checker: the CI gate in front of the schema registry.

It judges a new schema against earlier ones at a registry compatibility level (Confluent's
``BACKWARD`` … ``FULL_TRANSITIVE``), applying every rule of the Avro 1.12 specification's
"Schema Resolution" section, the way Java's ``SchemaCompatibility`` (and its Python port
``avro.compatibility``) does, and, unlike a registry, also the logical-type rules: a decimal's
precision and scale and a timestamp's unit are part of the contract even though the bytes on the
wire would still decode.

Unlike the reference checkers it reports *every* violation, each with the dotted path of the
field it concerns and one readable sentence, instead of stopping at the first one.

Paths
    ``amount`` (a field of the top-level record), ``customer.address.zip`` (nested records),
    ``items[].price`` (array items), ``tags{}.x`` (map values), ``payment<union:1>.card`` (branch 1
    of a union: the *writer's* branch index when the writer's schema is a union there, else the
    index of the reader's branch that was judged the intended match), ``""`` for the root.

Rule codes (``Violation.rule``; constants of these names in :mod:`.rules`)
    ``TYPE_MISMATCH``
        The writer's type can neither be read as the reader's type nor promoted to it (the only
        promotions are int→long/float/double, long→float/double, float→double, string↔bytes);
        also a decimal stored as bytes on one side and as fixed on the other.
    ``NAME_MISMATCH``
        Two records, enums or fixed types are matched but the reader's unqualified name differs
        from the writer's and the reader does not list the writer's full name among its aliases.
    ``FIXED_SIZE_MISMATCH``
        Two fixed types have different sizes.
    ``MISSING_ENUM_SYMBOLS``
        The writer's enum has symbols the reader's lacks, and the reader's enum declares no
        ``default`` symbol to read them as (Avro 1.9+ enum defaults).
    ``READER_FIELD_MISSING_DEFAULT``
        A reader field matches no writer field (by name or by the reader field's aliases) and
        has no ``default``.
    ``FIELD_ALIAS_AMBIGUOUS``
        A reader field matches several writer fields through its name and aliases; Java's
        resolver refuses such a schema pair (the Python reference silently takes the first).
    ``MISSING_UNION_BRANCH``
        Data the writer may write (a non-union type, or one branch of the writer's union)
        matches no branch of the reader's union, and no branch is a near miss worth descending
        into (a near miss is reported with the deeper rule at ``…<union:N>`` instead).
    ``DECIMAL_PRECISION_CHANGED`` / ``DECIMAL_SCALE_CHANGED``
        Both sides are valid decimals whose precision / scale differ; the specification resolves
        decimals only when both match.
    ``LOGICAL_TYPE_CHANGED``
        A logical type was added, removed or replaced by another (``date`` → plain ``int``,
        ``uuid`` added to a ``string``, ``decimal`` → ``big-decimal``, ``timestamp-millis`` →
        ``local-timestamp-millis``, ``date`` → ``timestamp-millis`` …).
    ``TIMESTAMP_UNIT_CHANGED``
        ``timestamp-millis``/``-micros``/``-nanos`` changed unit, or the same within the
        ``local-timestamp-*`` family: the same long would denote a different instant.
    ``TIME_UNIT_CHANGED``
        ``time-millis`` (int) ↔ ``time-micros`` (long): legal as an int→long promotion, but the
        value would denote a different time of day.

The last five are checked only when ``logical_types=True`` (the default); registries and the
reference checkers ignore logical types, which ``logical_types=False`` reproduces.

Choices and deviations, on purpose
    * Logical types are those of Avro 1.12: decimal (bytes, fixed), big-decimal (bytes), uuid
      (string, fixed 16), date, time-millis (int), time-micros, timestamp-millis/-micros/-nanos,
      local-timestamp-millis/-micros/-nanos (long), duration (fixed 12). As the specification
      requires, an unknown logical type or an invalid annotation (wrong underlying type, a
      decimal whose precision is not a positive integer, whose scale is negative or larger than
      the precision, or whose precision exceeds what its fixed size can hold) is ignored and the
      type is judged as its underlying type: changing ``{"type": "bytes", "logicalType":
      "decimal", "precision": 2, "scale": 5}`` to plain ``bytes`` is no violation, while
      changing it to a valid ``decimal(5,2)`` is ``LOGICAL_TYPE_CHANGED`` (a decimal was added).
    * Type aliases are resolved as the specification and Java do: an unqualified alias is
      relative to the namespace of the type that declares it. The Python reference compares the
      raw alias text with the writer's full name instead, so with namespaces the two disagree.
    * Recursive types are judged co-inductively, like the references (a pair of records being
      compared is assumed compatible while it is being compared), but a provisional verdict that
      depended on such an assumption is only memoised once the assumption was confirmed. The
      references memoise it at once, so when the assumed pair then fails inside a reader-union
      trial, a later trial can reuse the stale "compatible" and accept an incompatible pair.
    * A reader union is compatible with a writer type when *any* reader branch is, as in the
      reference checkers (``SchemaCompatibility`` rather than the resolver's first-match rule).
    * A named reference that is not qualified is looked up in the enclosing namespace, then in
      the null namespace (as Java does); ``{"type": "SomeNamedType"}`` is accepted as a reference.

Modules
    :mod:`.schema` resolves JSON into a graph of types; :mod:`.rules` applies the rules to a
    reader/writer pair; :mod:`.report` words the findings for a direction and judges a level;
    :mod:`.schema_file` reads and validates an ``.avsc`` file.
"""

from __future__ import annotations

from ..levels import LEVELS
from .report import AvroSchemaJson, Violation, check_level, reader_writer_violations
from .schema_file import load_schema_file

__all__ = [
    "LEVELS",
    "AvroSchemaJson",
    "Violation",
    "check_level",
    "load_schema_file",
    "reader_writer_violations",
]
