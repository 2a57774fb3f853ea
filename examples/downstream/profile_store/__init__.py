"""A small profile store on a DynamoDB global table, with its own failover choice."""

from profile_store.events import ProfileEvents
from profile_store.store import TABLE, Profile, ProfileStore, StoreUnavailable

__all__ = ["TABLE", "Profile", "ProfileEvents", "ProfileStore", "StoreUnavailable"]
