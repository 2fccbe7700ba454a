"""Carrier adapters (issue 16): one interface (`base.CarrierAdapter`) the console talks to every carrier through."""
