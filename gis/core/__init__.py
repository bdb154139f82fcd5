"""The platform under every room: database, models, errors, settings, the district's clock, notifications, users."""
