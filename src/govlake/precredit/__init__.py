"""融资预授信额测算 (financing pre-credit): a default-probability model over profile fields, a
credit-line range and the top reasons, trained on generated loan outcomes (docs/precredit.md)."""
