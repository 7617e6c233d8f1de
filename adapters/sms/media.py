"""Downloading Twilio media: the core's guarded fetch (core.remote) with the account's
credentials, which go to Twilio's own host only."""

from core.remote import MAX_REDIRECTS, MediaRefused, MediaTooLarge, allowed, fetch

__all__ = ["MAX_REDIRECTS", "MediaRefused", "MediaTooLarge", "allowed", "fetch"]
