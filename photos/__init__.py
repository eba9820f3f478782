"""The studio's pages and API endpoints for a photo with everything it is made of: the photo and
its videos (``content``) together with its markers and their state (``markers``). Above both,
so neither has to import the other's presentation."""
