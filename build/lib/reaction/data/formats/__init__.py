"""Readers for public CTR file formats: raw files -> validated, typed parquet per split.

One :class:`~reaction.data.formats.table.TableFormat` per dataset (``criteo``, ``avazu``,
``movielens``, ``frappe``, ``kdd12``, ``aliccp``, ``tabular``) says how a raw row becomes labels,
numeric and categorical values; everything else is shared:

* ``lines``  -- a file as chunks of physical lines (bounded memory, exact line numbers, bad UTF-8);
* ``rows``   -- one chunk of lines -> typed columns + bad rows with a reason (vectorised polars);
* ``bad_rows`` -- the ``on_bad_rows: skip|error`` policy and the skipped-row report;
* ``splits`` -- which file feeds which split (published BARS files, random, time-ordered, days);
* ``ingest`` -- the streaming loop writing ``{train,val,test}.parquet`` into a fingerprinted cache;
* ``source`` -- :class:`FileSource`, the ``RawSource`` that ``CTRDataModule`` preprocesses.
"""
