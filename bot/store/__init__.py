"""What pecbot remembers, and the committed steps that change it.

Read in this order:

* :mod:`bot.store.models`: the tables (SQLAlchemy 2), and a message's states;
* :mod:`bot.store.db`: engines, sessions, and the schema gate ``pecbot run`` passes;
* :mod:`bot.store.blobs`: the raw messages, content-addressed files on disk;
* :mod:`bot.store.dedup`: the key that recognises a message seen before;
* :mod:`bot.store.intake`: which inbox messages we have, and storing a new one;
* :mod:`bot.store.queue`: stored → analysed, or retried, or quarantined;
* :mod:`bot.store.casebook`: cases, their documents, operators' decisions;
* :mod:`bot.store.outbox`: replies, sent once;
* :mod:`bot.store.digests` and :mod:`bot.store.health`: the operators' digest;
* :mod:`bot.store.audit`: who did what, kept after the purge;
* :mod:`bot.store.retention`: the purge of closed cases;
* :mod:`bot.store.atomic`: the two race-safe SQL idioms the steps are made of.

Every step function commits its own transaction: a crash between two steps
leaves a state the next run continues from.
"""
