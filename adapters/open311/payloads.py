"""A GeoReport v2 ``POST requests`` as kept in the inbox: the checked fields, the client."""

from __future__ import annotations

from pydantic import BaseModel


class Open311Post(BaseModel):
    service_code: str
    lat: float | None = None
    long: float | None = None
    address_string: str | None = None
    address_id: str | None = None
    description: str | None = None
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    media_url: str | None = None
    device_id: str | None = None


class Open311Inbox(BaseModel):
    client: str
    request: Open311Post
    # media_url is fetched only from the channel's media_hosts; otherwise it is a link
    fetch_media: bool = False
