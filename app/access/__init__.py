"""Who sees what: principals, tokens, dataset access and small-number suppression."""
