//! The quorum disk: Red Hat qdisk compatible on-disk format, sector I/O, and qdiskd's core.
