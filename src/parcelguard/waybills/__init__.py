"""Waybills (运单): their numbers, masking policies and labels."""
