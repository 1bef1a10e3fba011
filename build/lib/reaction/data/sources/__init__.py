"""Raw sources: where a dataset's raw split files come from, before preprocessing.

``SyntheticSource`` generates them (planted ground truth); ``FileSource`` ingests the files of a
public format (``reaction.data.formats``). Both hand ``RawSplits`` to ``reaction.data.preprocess``.
"""
