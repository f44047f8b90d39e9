"""auditkit: audit a clinic's phone contacts against its phone-contact policy."""
