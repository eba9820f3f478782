from django.urls import path, register_converter

from viewer import beacon, views

app_name = "viewer"


class NftExtension:
    """The three files of an AR.js NFT marker; nothing else is served from its folder."""

    regex = "iset|fset3|fset"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class MarkerName:
    """A stored marker's stem (``nft-<hex>``): letters, digits, - and _, no dots or slashes."""

    regex = "[A-Za-z0-9_-]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(NftExtension, "nftext")
register_converter(MarkerName, "markername")

urlpatterns = [
    path("v/<uuid:uuid>/", views.page, name="page"),
    path("v/<uuid:uuid>/beacon", beacon.beacon, name="beacon"),
    path("v/<uuid:uuid>/nft/<markername:name>.<nftext:ext>", views.nft_file, name="nft_file"),
    path("v/<uuid:uuid>/marker/<markername:name>.mind", views.marker, name="marker"),
    path("v/<uuid:uuid>/marker/<markername:name>.arvm", views.marker, {"compact": True}, name="compact_marker"),
    path("p/<uuid:uuid>/", views.album, name="album"),
    path("p/<uuid:uuid>/marker/<markername:name>.mind", views.album_marker, name="album_marker"),
    path(
        "p/<uuid:uuid>/marker/<markername:name>.arvm",
        views.album_marker,
        {"compact": True},
        name="album_compact_marker",
    ),
]
