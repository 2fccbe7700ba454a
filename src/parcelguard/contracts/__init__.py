"""Contract customers (协议客户): organisations verified once in an agreement, whose parcels are not
asked for a document each, but of which a share is drawn for inspection."""
