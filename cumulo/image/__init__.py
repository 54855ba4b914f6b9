"""Images (Glance v2): image records, upload and download, content checks."""
