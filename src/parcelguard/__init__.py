"""parcelguard: real-name parcel intake (实名收寄) and privacy waybills (隐私面单)."""

__version__ = "0.1.0"
