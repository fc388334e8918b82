"""The store: Peewee models and database set-up, files on disk, user accounts."""
